# frozen_string_literal: true

# `cowscope run --cache-probe` (Ruby 3.4): loaded after cowscope.rb, it forks the call-cache probe after
# the children, a child that, told to go, runs a full GC and then the workload. On a Ruby whose marking GC
# empties every call cache (cowscope's version table says which), the call caches it fills again are
# those the workload runs: what a strategy's GC before the fork costs each child (none's children run
# them without a write, so their copies cannot tell). cowscope reads its call caches and kills it; it is
# nobody's measurement. A file of its own, loaded only with the flag: the agent's own code and memory at
# the fork stay as they are without it (a program's GCs and malloc layout shift with what loads before).
module Cowscope
  module CacheProbe
    private

    # The last of the recursion (fork_children forks the children one a frame): the probe, after them.
    def fork_children(c, count)
      return super unless count.zero?

      [fork do
        @cache_probe_child = true
        child_main(c)
      end]
    end

    # In the probe only: its output is not the program's to show again, and a full GC goes first.
    def run_workload(*args)
      if @cache_probe_child
        $stdout.reopen(File::NULL, 'w')
        $stderr.reopen(File::NULL, 'w')
        GC.start(full_mark: true, immediate_sweep: true)
      end
      super
    end

    # `forked` names the probe apart from the children.
    def report(event, **fields)
      if event == 'forked'
        *children, probe = fields[:children]
        fields = fields.merge(children: children, cacheProbe: probe)
      end
      super
    end
  end

  singleton_class.prepend(CacheProbe)
end
