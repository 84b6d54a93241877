# Packs an unpacked gem (a source tree or a bundled gem's folder) into a .gem file that `gem install
# --local` can install: ruby pack-gem.rb GEMSPEC DIR OUTDIR. Used by install-rails-gems.sh.
#
# Why not `gem build`: the bundled gems inside Ruby's source tarball are already unpacked, and their
# gemspecs either list no files (the installed form) or list files that were left out of the tarball
# (tests, CI files); a gemspec may also run `git ls-files`, and there is no git repository. So the gem
# holds the files of DIR that the gemspec lists and that exist, or every file of DIR when it lists none.
require 'rubygems'
require 'rubygems/package'
require 'fileutils'

spec_file, dir, out = ARGV
abort 'usage: ruby pack-gem.rb GEMSPEC DIR OUTDIR' unless spec_file && dir && out
spec_file = File.expand_path(spec_file)
out = File.expand_path(out)

Dir.chdir(dir) do
  spec = Gem::Specification.load(spec_file) or abort "pack-gem: cannot load #{spec_file}"
  all = Dir.glob('**/*', File::FNM_DOTMATCH).select { |f| File.file?(f) }
  listed = spec.files.select { |f| File.file?(f) }
  spec.files = listed.empty? ? all : listed
  # the gemspec's own extension and executables must be in the gem even where `files` forgot them
  spec.files |= spec.extensions.select { |f| File.file?(f) }
  spec.files |= spec.extensions.flat_map { |e| Dir.glob(File.join(File.dirname(e), '**', '*')).select { |f| File.file?(f) } }
  spec.executables = spec.executables.select { |e| File.file?(File.join(spec.bindir, e)) }
  file = Gem::Package.build(spec)
  FileUtils.mv(file, File.join(out, File.basename(file)))
  puts File.join(out, File.basename(file))
end
