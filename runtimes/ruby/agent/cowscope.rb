# frozen_string_literal: true

# The Ruby side of a cowscope controlled fork.
#
# cowscope starts `ruby -r<this file> app.rb` with COWSCOPE_CONFIG (JSON) in the environment and a
# control channel on an inherited file descriptor (JSON lines both ways). At the fork point (the end of
# the main script, an explicit Cowscope.fork_point, or after loading a Rack app) this file:
#
#   1. applies the fork strategy: named steps, composable with + (e.g. gc+coderange);
#   2. forks, back to back, a throwaway sibling that writes the heap map (ObjectSpace.dump_all, full:
#      true; on Ruby 3.1 dump_all sets string coderange bits, so it must not run in the parent), a
#      reference twin and N children; twin and children stop themselves at once (SIGSTOP): the twin keeps
#      the fork-time image; the parent reports `forked` (naming the sibling) and waits, quiet; the sibling
#      reports `heap_map` when it is done;
#   4. each child, when cowscope continues it (SIGCONT = go), runs the workload, reports done and stops
#      again so that cowscope can read it while it is quiescent;
#   5. the parent waits for `release`, reaps everyone and exits without running at_exit handlers twice.
#
# The control protocol has a version (PROTOCOL): the agent's first message, sent when it is loaded, is
# {"event":"hello","protocol":PROTOCOL}; cowscope refuses any other version. Nothing it starts outlives
# cowscope: the parent dies with cowscope (PR_SET_PDEATHSIG, set when the agent is loaded), and every
# process the agent forks (heap-map sibling, twin, children) dies with the parent, stopped or not.
#
# Without COWSCOPE_CONFIG (a real server started with RUBYOPT=-r<this file>) it runs in live mode:
# it hooks Process._fork and, at each process's first fork (a Unicorn/Puma master forking its first
# worker, a daemonized master, Puma's worker 0 forking with fork_worker, a mold) and again at a later
# fork generation (a refork, when the heap changed), writes the heap map from a throwaway sibling fork
# into COWSCOPE_LIVE_DIR (default $TMPDIR/cowscope-live-UID) as PID.heap.jsonl with PID.meta.json
# beside it (both renamed into place; a writer removes its own at a normal exit, the next fork those of
# processes that died).
# `cowscope inspect MASTER` finds it there. Cowscope.fork_point and Cowscope.workload stay no-ops, so an
# app may call them unconditionally. Standard library only.

require 'json'
require 'objspace'

module Cowscope
  # The control protocol's version: cowscope's driver (runtimes/ruby/driver.ts, AGENT_PROTOCOL) must match.
  PROTOCOL = 2
  # prctl(2) option and the signal a process gets when its parent dies
  PR_SET_PDEATHSIG = 1
  SIGKILL_NUMBER = 9
  # The most request marks a child sends in `done` (the report keeps fewer points of its curve)
  REQUEST_MARKS = 64

  CONFIG = begin
    JSON.parse(ENV.fetch('COWSCOPE_CONFIG', '{}')).freeze
  rescue JSON::ParserError
    {}.freeze
  end

  class << self
    # Registers the code each child runs after the fork (when cowscope got no --workload file).
    def workload(&block)
      @workload = block
    end

    # Forks here instead of at the end of the main script. Does not return in the parent when cowscope
    # is driving (the parent waits for release and exits); is a no-op otherwise.
    def fork_point
      return unless active?
      return if @forked || !program_process?

      @forked = true
      run_fork_sequence
    rescue Exception => e # rubocop:disable Lint/RescueException -- cowscope must hear why, whatever it is
      report('error', error: clip("#{e.class}: #{e.message}"), where: clip(caller_hint(e)))
      raise
    end

    def active?
      CONFIG.key?('fd')
    end

    # At load, under cowscope: die with cowscope (so that nothing stays stopped if it is SIGKILLed), then
    # say hello with the protocol version.
    def start_controlled
      @program_pid = Process.pid
      cowscope = Integer(CONFIG.fetch('cowscopePid', 0))
      set_pdeathsig
      # cowscope died before the line above: nobody would ever release us.
      exit!(1) if cowscope.positive? && !alive?(cowscope)
      report('hello', protocol: PROTOCOL, ruby: RUBY_VERSION)
    end

    # The default fork point: the end of the main script. A raise or an explicit exit ends the program
    # before it got there, and cowscope is told why.
    def at_main_exit
      return if @forked || !program_process?

      # read once: $! is cleared by a rescue inside what reads it (a LoadError's message did, and the
      # next $! was nil)
      error = $!
      case error
      when nil then fork_point
      when SystemExit then report('exited', status: error.status, where: clip(caller_hint(error)))
      else report('error', error: clip("#{error.class}: #{error.message}"), where: clip(caller_hint(error)))
      end
    end

    # The program's own process, not one it forked before the fork point (a preforking server's worker, a
    # helper): those end as they would without cowscope (their exits and errors are theirs), and never
    # reach the fork point.
    def program_process?
      Process.pid == @program_pid
    end

    # `cowscope run --rack config.ru`: load the app as the preload, then fork.
    def rack_main
      require_rack
      require 'rack/mock'
      built = Rack::Builder.parse_file(CONFIG.fetch('rack'))
      @rack_app = built.is_a?(Array) ? built.first : built # rack 2 returns [app, options]
      # GC, held where the requests loop reads it: a constant the child's code refers to first registers
      # its cache in the VM's constant-cache table (a page that would be cowscope's); and the Array the
      # loop counts allocations in, made here so that the child makes no object and no new ivar for it
      @gc_module = GC
      @allocated = Array.new(5, 0)
      fork_point
    end

    # A Ruby of its own (chruby's /opt/rubies, rbenv) does not search the system's gem folders: say so
    # where rack is missing, and where this machine has it (Debian installs gems for every Ruby under
    # rubygems-integration, which only its own Ruby searches).
    # What cowscope was given is refused in one line (usage), and the agent leaves without a backtrace of
    # its own.
    def require_rack
      require 'rack'
    rescue LoadError => e
      raise unless e.path == 'rack'
      found = Dir.glob('/usr/share/rubygems-integration/all/gems/rack-[0-9]*').first
      fix = found ? "run with GEM_PATH=#{File.dirname(File.dirname(found))} (this machine has rack there)" : "gem install rack"
      report('error', error: "#{e.message}: it needs the rack gem where #{RbConfig.ruby} looks for gems: #{fix}", usage: true)
      exit!(1)
    end

    # full: every slot, free ones too; shapes: false where the keyword exists (3.2+): shape records are
    # not GC heap objects.
    def dump_options
      shapes = ObjectSpace.method(:dump_all).parameters.any? { |_, name| name == :shapes }
      shapes ? { full: true, shapes: false } : { full: true }
    end

    private

    def channel
      @channel ||= IO.for_fd(Integer(CONFIG.fetch('fd')), 'r+', autoclose: false).tap { |io| io.sync = true }
    end

    def report(event, **fields)
      channel.syswrite("#{JSON.generate({ event: event, pid: Process.pid }.merge(fields))}\n")
    end

    # Error texts are clipped: a message has a size limit on cowscope's side (1 MiB a line).
    def clip(text)
      text = text.to_s
      text.length > 4000 ? "#{text[0, 4000]}..." : text
    end

    # prctl(PR_SET_PDEATHSIG, SIGKILL) through Fiddle; built once in the parent, so a fork only calls it.
    def prctl
      return @prctl if defined?(@prctl)

      @prctl = begin
        require 'fiddle'
        Fiddle::Function.new(Fiddle::Handle::DEFAULT['prctl'],
                             [Fiddle::TYPE_INT, Fiddle::TYPE_LONG, Fiddle::TYPE_LONG, Fiddle::TYPE_LONG, Fiddle::TYPE_LONG],
                             Fiddle::TYPE_INT)
      rescue LoadError, StandardError
        nil # no Fiddle: cowscope still kills and reaps everything, unless it is SIGKILLed itself
      end
    end

    def set_pdeathsig
      prctl&.call(PR_SET_PDEATHSIG, SIGKILL_NUMBER, 0, 0, 0)
    end

    def alive?(pid)
      Process.kill(0, pid)
      true
    rescue Errno::ESRCH
      false
    rescue Errno::EPERM
      true
    end

    # In a process the agent forked: SIGKILL when the parent dies (the kernel delivers it to a stopped
    # process too); leave at once if the parent died before that was set.
    def die_with_parent(parent)
      set_pdeathsig
      exit!(1) if Process.ppid != parent
    end

    def caller_hint(error)
      error.backtrace&.first.to_s
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    def threads_now
      Thread.list.map do |t|
        { name: t == Thread.main ? 'main' : (t.name || t.inspect[/0x\h+ (.*)>/, 1] || 'thread'), status: t.status.to_s }
      end
    end

    def run_fork_sequence
      report('fork_point',
             ruby: RUBY_VERSION, platform: RUBY_PLATFORM, engine: RUBY_ENGINE,
             heapPageSize: GC::INTERNAL_CONSTANTS[:HEAP_PAGE_SIZE],
             slotSize: GC::INTERNAL_CONSTANTS[:RVALUE_SIZE] || GC::INTERNAL_CONSTANTS[:BASE_SLOT_SIZE],
             threads: threads_now, osThreads: Dir.children('/proc/self/task').size, gcCount: GC.count,
             heapPages: GC.stat(:heap_allocated_pages))
      apply_strategy(CONFIG.fetch('strategy', 'none'))
      # The heap-map sibling, the twin and the children are forked back to back, so that the map and the
      # twin show the same image; the children run their workload (and cowscope reads them) while the
      # sibling writes the map.
      # Major GCs so far, counted before the forks: the call also warms GC.stat's caches, so the
      # children's one call (after their workload) copies no page of its own.
      @gc_majors = GC.stat(:major_gc_count)
      @gc_compactions = GC.stat(:compact_count)
      # The GC heap's pages at the fork, and the room it may still add before a GC must run (Ruby adds a
      # page of that room rather than collect while any is left): a child's first allocations beyond the
      # free slots go there, while the garbage at the fork waits for its first GC. A GC before the fork
      # frees that garbage, and the same allocations fill its slots, on shared pages, instead. 3.4 counts
      # the room in slots of any size; taken at the smallest (a lower bound). The child's growth is read
      # against the pages here (the call also warms GC.stat's cache for that key).
      stat = GC.stat
      @heap_page_bytes = GC::INTERNAL_CONSTANTS[:HEAP_PAGE_SIZE]
      @heap_pages_at_fork = GC.stat(:heap_allocated_pages)
      @heap_allocatable_bytes = stat[:heap_allocatable_pages] ? stat[:heap_allocatable_pages] * @heap_page_bytes : stat.fetch(:heap_allocatable_slots, 0) * (GC::INTERNAL_CONSTANTS[:RVALUE_SIZE] || GC::INTERNAL_CONSTANTS[:BASE_SLOT_SIZE])
      sibling = fork_heap_map(CONFIG.fetch('heapMap'))
      pids = fork_family(Integer(CONFIG.fetch('children')))
      begin
        report('forked', twin: pids.first, children: pids.drop(1), heapAllocatableBytes: @heap_allocatable_bytes,
                          workloadRegistered: !@workload.nil?, # after the strategy: a custom step may register it
                          heapMapWriter: sibling)
      rescue Exception # rubocop:disable Lint/RescueException -- nothing forked may outlive a failure
        release([sibling, *pids])
        raise
      end
      wait_for_release([sibling, *pids])
    end

    # A strategy is one or more named steps joined by +, applied in order. Each step returns its label
    # (what really ran, e.g. "warmup (emulated)" on a Ruby without Process.warmup).
    STRATEGY_STEPS = %w[none gc nakayoshi compact warmup coderange promote trim prewarm custom].freeze

    def apply_strategy(spec)
      started = monotonic
      steps = spec.split('+').map do |step|
        raise ArgumentError, "unknown strategy step #{step} (known: #{STRATEGY_STEPS.join(', ')})" unless STRATEGY_STEPS.include?(step)

        t = monotonic
        label = send("step_#{step}")
        { name: step, label: label, seconds: monotonic - t }
      end
      report('strategy', name: spec, label: steps.map { |s| s[:label] }.join('+'), steps: steps, seconds: monotonic - started)
    end

    def step_none = 'none'

    def step_gc
      GC.start(full_mark: true, immediate_sweep: true)
      'gc'
    end

    # The real nakayoshi_fork gem when it is installed (Debian: ruby-nakayoshi-fork): it prepends Object#fork
    # with its GC loop, so one throwaway fork runs that loop here, before the heap map.
    def step_nakayoshi
      begin
        require 'nakayoshi_fork'
      rescue LoadError
        nakayoshi_loop
        return 'nakayoshi (emulated)'
      end
      Process.wait(fork { exit!(0) })
      version = defined?(NakayoshiFork::VERSION) ? " #{NakayoshiFork::VERSION}" : ''
      "nakayoshi (gem#{version})"
    end

    # What nakayoshi_fork does: up to 4 minor GCs while more than a tenth of the live objects are young.
    def nakayoshi_loop
      4.times do
        s = GC.stat
        young = s[:heap_live_slots] - s[:old_objects] - (s[:remembered_wb_unprotected_objects] || 0)
        break if young < s[:heap_live_slots] / 10

        GC.start(full_mark: false)
      end
    end

    def step_compact
      GC.compact
      'compact'
    end

    # Process.warmup (3.3+); on older Rubies its steps: coderange, promote, compact, trim.
    def step_warmup
      if Process.respond_to?(:warmup)
        Process.warmup
        return 'warmup'
      end
      step_coderange
      step_promote
      step_compact
      malloc_trim # what Process.warmup does: malloc_trim only, no bin sort
      'warmup (emulated)'
    end

    def step_coderange
      ObjectSpace.each_object(String, &:valid_encoding?)
      'coderange'
    end

    def step_promote
      3.times { GC.start(full_mark: false) }
      GC.start
      'promote'
    end

    # malloc_trim(0), then glibc's unsorted bin sorted in the parent (malloc.bin-sort).
    def step_trim
      malloc_trim
      sort_unsorted_bin
      'trim'
    end

    # Returns the whole pages inside free chunks to the kernel (what Process.warmup calls too).
    def malloc_trim
      require 'fiddle'
      Fiddle::Function.new(Fiddle::Handle::DEFAULT['malloc_trim'], [Fiddle::TYPE_SIZE_T], Fiddle::TYPE_INT).call(0)
    end

    # Chunks freed since glibc last sorted its unsorted bin wait there, and the first malloc no tcache or
    # small bin serves sorts them into their bins, rewriting each one's links (with the values they held,
    # where they are of one size). Left for after the fork, every child does it and copies a page per
    # chunk. Here the parent does it once: a malloc no bin holds (64 MiB: past glibc's largest dynamic
    # mmap threshold, so mmapped and unmapped again, the program's malloc tuning unchanged) sorts up to
    # 10,000 chunks (MAX_ITERS); malloc_info counts the main arena's unsorted chunks. malloc_trim does not
    # sort: it only releases the pages inside free chunks.
    SORT_REQUEST = 64 << 20
    SORTED_PER_MALLOC = 10_000

    def sort_unsorted_bin
      fn = ->(name, args, ret) { Fiddle::Function.new(Fiddle::Handle::DEFAULT[name], args, ret) }
      malloc = fn.call('malloc', [Fiddle::TYPE_SIZE_T], Fiddle::TYPE_VOIDP)
      free = fn.call('free', [Fiddle::TYPE_VOIDP], Fiddle::TYPE_VOID)
      waiting = unsorted_chunks(fn, free)
      ((waiting + SORTED_PER_MALLOC - 1) / SORTED_PER_MALLOC).times { free.call(malloc.call(SORT_REQUEST)) }
    end

    # The main arena's unsorted chunks, from malloc_info's XML (written to a memory stream).
    def unsorted_chunks(fn, free)
      open_memstream = fn.call('open_memstream', [Fiddle::TYPE_VOIDP, Fiddle::TYPE_VOIDP], Fiddle::TYPE_VOIDP)
      malloc_info = fn.call('malloc_info', [Fiddle::TYPE_INT, Fiddle::TYPE_VOIDP], Fiddle::TYPE_INT)
      fclose = fn.call('fclose', [Fiddle::TYPE_VOIDP], Fiddle::TYPE_INT)
      text = Fiddle::Pointer.malloc(Fiddle::SIZEOF_VOIDP, free)
      size = Fiddle::Pointer.malloc(Fiddle::SIZEOF_SIZE_T, free)
      stream = open_memstream.call(text, size)
      return 0 if stream.null?

      malloc_info.call(0, stream)
      fclose.call(stream)
      xml = text.ptr.to_s(size[0, Fiddle::SIZEOF_SIZE_T].unpack1('J'))
      free.call(text.ptr)
      xml[%r{<heap nr="0">.*?</heap>}m].to_s[/<unsorted [^>]*count="(\d+)"/, 1].to_i
    end

    # The reforking idea: run the workload in the parent before forking, so its caches are warm.
    def step_prewarm
      count = Integer(CONFIG.fetch('prewarm', 1))
      count.times { run_workload }
      "prewarm x#{count}"
    end

    def step_custom
      load(CONFIG.fetch('beforeFork'))
      "custom (#{File.basename(CONFIG.fetch('beforeFork'))})"
    end

    # The heap map: a throwaway sibling fork writes it and tells cowscope itself, so that the parent has
    # nothing to do after the fork. (When the parent waited for it and reported, those writes of the
    # parent's raced cowscope's read of the family: 19 pages copied by the parent in one run, 38 in the
    # next, on the same program.) Returns the sibling's pid; the parent reaps it at release.
    def fork_heap_map(path)
      started = monotonic
      parent = Process.pid
      fork do
        status = 1
        begin
          die_with_parent(parent)
          File.open(path, 'w') { |f| ObjectSpace.dump_all(output: f, **dump_options) }
          report('heap_map', path: path, seconds: monotonic - started, bytes: File.size(path))
          status = 0
        rescue Exception => e # rubocop:disable Lint/RescueException -- told to cowscope, then the fork ends
          report('error', error: clip("#{e.class}: #{e.message}"), heapMapWriter: true)
        ensure
          exit!(status) # never run the program's at_exit handlers in a helper fork
        end
      end
    end

    # The twin first, then the children, in a tight loop: whatever the parent writes between two forks
    # would show up as a difference between the twin and a child.
    def fork_family(count)
      # A GC under way at the fork (incremental marking, lazy sweeping) goes on in the children without
      # GC.count changing: read the state here, in the parent (a query in the child copies pages itself).
      @gc_busy_at_fork = GC.respond_to?(:latest_gc_info) && GC.latest_gc_info(:state) != :none
      # (a major one under way counts as the children's)
      @gc_majors_at_fork = @gc_majors - (@gc_busy_at_fork && GC.latest_gc_info(:major_by) ? 1 : 0)
      # The twin's and the children's code refers to no constant: on 3.2+ a constant reference run for the
      # first time registers its cache in the VM's constant-cache table, pages that would be cowscope's,
      # not the app's (and a page the twin writes would pass for one the fork path wrote).
      c = { process: Process, gc: GC, workload: CONFIG['workload'], parent: Process.pid, pdeathsig: [PR_SET_PDEATHSIG, SIGKILL_NUMBER] }
      twin = fork do
        forked_setup(c)
        c[:process].kill(:STOP, c[:process].pid)
        exit!(0)
      end
      [twin, *fork_children(c, count)]
    end

    # Each pid stays in a local of its own frame (the VM stack, which every child writes anyway) until the
    # last fork: an Array filled between two forks held, in every later child, the pids forked before it
    # (a word of mutation.array a child, the twin's pid: the program's, as blame saw it).
    def fork_children(c, count)
      return [] if count.zero?

      pid = fork { child_main(c) }
      [pid, *fork_children(c, count - 1)]
    end

    # In the twin and the children: SIGKILL when the parent dies (the kernel delivers it to a stopped
    # process too); leave at once if the parent died before that was set.
    def forked_setup(c)
      prctl&.call(*c[:pdeathsig], 0, 0, 0)
      exit!(1) if c[:process].ppid != c[:parent]
    end

    def child_main(c)
      status = 1
      process = c[:process]
      me = process.pid
      gc = c[:gc]
      forked_setup(c)
      process.kill(:STOP, me) # wait for go
      gc_at_go = gc.count
      run_workload(c[:workload])
      # A process the workload forked without a block, back from it: it ends as it would have (it is no
      # child of cowscope's, and sends nothing).
      if process.pid != me
        flush_output
        exit!(0)
      end
      # $stdout is buffered on a pipe, and cowscope kills this child once it has read it: what the workload
      # printed would be lost. Inline, not a method of its own: a call site first run here fills its cache
      # on a page of child_main's call sites, which the calls above write anyway ($stderr is unbuffered).
      begin
        $stdout.flush
      rescue IOError, SystemCallError
        nil # closed or broken: nothing to keep
      end
      # The allocation counts of a Rack run (run_rack_requests): objects the workload allocated, and those
      # its later rounds did, scaled to every round; none without two rounds.
      a = @allocated
      counts = a && a[3] > 0 ? %(,"allocated":#{a[2] - a[0]},"allocatedSteady":#{(a[2] - a[1]) * a[4] / (a[4] - a[3])}) : ''
      # The GC heap's growth in this child (heap_room_at_fork), in bytes; pages it freed again count less.
      grown = (gc.stat(:heap_allocated_pages) - @heap_pages_at_fork) * @heap_page_bytes
      # GC.count counts a GC when it starts: one whose marking is under way now is left out only if it
      # started here (a GC under way at the fork, still marking, was counted before the go: -1 before).
      runs = gc.count - gc_at_go
      # Whether the workload left the GC off (GC.disable): GC.enable says, and turns it on, so it goes off
      # again at once; with it on (the usual case) nothing is written. Only with it off does a prewarm's
      # garbage stay uncollected in a parent that ran the workload (cowscope's prewarm effects).
      gc_off = gc.enable
      gc.disable if gc_off
      marks = runs > 0 && gc.latest_gc_info(:state) == :marking ? runs - 1 : runs
      # Written without JSON.generate: the child should do as little as possible after its workload.
      # gcFullRuns: the major GCs among gcRuns (a minor GC marks an old object only when remembered);
      # gcMarks: the GCs whose marking ran from start to end in the child, each of which aged every young
      # object it kept (not one under way at the fork, nor a major GC's incremental marking under way now);
      # gcCompactions: the compactions among them (GC.compact, GC.auto_compact), which move objects.
      channel.syswrite(%({"event":"done","pid":#{process.pid},"requests":#{@requests_served || 0},"requestMarks":[#{(@request_marks || []).join(',')}],"gcRuns":#{runs + (@gc_busy_at_fork ? 1 : 0)},"gcFullRuns":#{gc.stat(:major_gc_count) - @gc_majors_at_fork},"gcMarks":#{marks},"gcCompactions":#{gc.stat(:compact_count) - @gc_compactions},"heapGrownBytes":#{grown < 0 ? 0 : grown},"gcOff":#{gc_off ? 1 : 0}#{counts}}\n))
      process.kill(:STOP, process.pid) # quiescent while cowscope reads us; cowscope kills us after
      status = 0
    rescue Exception => e # rubocop:disable Lint/RescueException -- report anything, then leave
      begin
        # a process the workload forked ends as Ruby ends it: its exit status, or the error printed
        if Process.pid != me
          status = e.is_a?(SystemExit) ? e.status : 1
          $stderr.write(e.full_message) unless e.is_a?(SystemExit)
        else
          report('error', error: clip("#{e.class}: #{e.message}"), where: clip(caller_hint(e)))
        end
      rescue StandardError
        nil # cowscope is gone; leave anyway
      end
    ensure
      flush_output
      exit!(status)
    end

    # The program's buffered output ($stdout is buffered on a pipe), before a process leaves with exit!
    # (a child after an error, the parent once released), which would drop it.
    def flush_output
      [$stdout, $stderr].each do |io|
        io.flush
      rescue StandardError
        nil # closed or broken: nothing to keep
      end
    end

    def run_workload(file = CONFIG['workload'])
      if file
        load(file)
      elsif @rack_app
        run_rack_requests
      elsif @workload
        @workload.call
      end
    end

    def run_rack_requests
      mock = Rack::MockRequest.new(@rack_app)
      requests = CONFIG.fetch('requests').map { |r| r.split(' ', 2) }
      total = Integer(CONFIG.fetch('requestCount')) * requests.size
      # Request marks for the copied-pages-against-requests curve: [served, CLOCK_MONOTONIC µs] at up to
      # REQUEST_MARKS evenly spaced requests, the last always. A flat array of Integers made before the
      # first request, so keeping the marks writes no new objects.
      every = [(total + REQUEST_MARKS - 1) / REQUEST_MARKS, 1].max
      @request_marks = Array.new(2 * (total / every + 1), 0)
      marked = 0
      @requests_served = 0
      # Objects allocated: at the start, after the first half of the rounds, at the end (Integers in the
      # Array rack_main made, so counting makes no object), and the rounds. The later rounds' count is
      # what a run of the same requests allocates once the first has done its one-time work: what a
      # prewarmed child allocates (cowscope's prewarm cost).
      rounds = Integer(CONFIG.fetch('requestCount'))
      half = rounds / 2
      gc = @gc_module
      counts = @allocated
      counts[3] = half
      counts[4] = rounds
      counts[0] = gc.stat(:total_allocated_objects)
      rounds.times do |round|
        counts[1] = gc.stat(:total_allocated_objects) if round == half
        requests.each do |method, path|
          response = mock.request(method, path)
          # as --wsgi does: a mistyped route (404) or a redirect loop's end is no workload to measure
          raise "#{method} #{path} answered #{response.status}" unless (200..399).cover?(response.status)

          @requests_served += 1
          next unless (@requests_served % every).zero? || @requests_served == total

          @request_marks[marked] = @requests_served
          @request_marks[marked + 1] = ::Process.clock_gettime(::Process::CLOCK_MONOTONIC, :microsecond)
          marked += 2
        end
      end
      @request_marks = @request_marks.first(marked)
      counts[2] = gc.stat(:total_allocated_objects)
    end


    # The parent waits. On `release`, when cowscope goes away (EOF, or the
    # report itself fails), or on any error, every child still alive is killed and all are reaped; then
    # the parent leaves without running at_exit handlers again.
    def wait_for_release(pids)
      loop do
        line = channel.gets
        break if line.nil? || JSON.parse(line)['cmd'] == 'release'
      end
    ensure
      flush_output
      release(pids)
      exit!(0)
    end

    # Kills every process of the family still alive, and reaps them all.
    def release(pids)
      pids.each do |pid|
        Process.kill(:KILL, pid)
      rescue Errno::ESRCH
        nil
      end
      pids.each do |pid|
        Process.wait(pid)
      rescue Errno::ECHILD
        nil
      end
    end
  end
end

module Cowscope
  # Live mode: a heap map per forking process (a server's master, Puma's worker 0 with fork_worker, a
  # Pitchfork-style mold), taken at the process's first fork and taken again when it forks after a quiet
  # spell (a new fork generation: a refork) while its heap has changed since the map.
  module Live
    # A fork more than this many seconds after the previous fork of the same process starts a new
    # generation; its map is then retaken if older than this many seconds and the heap has changed.
    REMAP_AFTER = Float(ENV.fetch('COWSCOPE_LIVE_REMAP_AFTER', '1'), exception: false) || 1.0
    # Allocations since the map below which a heap counts as unchanged (an idle master's own loop).
    REMAP_ALLOCATIONS = 1000
    MAP_FILE = /\A(\d+)\.(heap\.jsonl|meta\.json)(?:\.(\d+)\.tmp)?\z/

    class << self
      def dir
        require 'tmpdir'
        ENV['COWSCOPE_LIVE_DIR'] || File.join(Dir.tmpdir, "cowscope-live-#{Process.uid}")
      end

      def monotonic = Process.clock_gettime(Process::CLOCK_MONOTONIC)

      # Called from the _fork hook in the forking process. State inherited through a fork belongs to
      # the parent: it is keyed by pid, so a forked child (a daemonized master, Puma's worker 0, a mold)
      # takes its own map at its own first fork.
      def before_fork
        return if @busy

        pid = Process.pid
        now = monotonic
        @forks = nil unless @forks && @forks[:pid] == pid
        state = (@forks ||= { pid: pid, last: nil, map_at: nil, allocated: nil, generation: 0 })
        new_generation = state[:last].nil? || now - state[:last] > REMAP_AFTER
        state[:last] = now
        return unless new_generation

        state[:generation] += 1
        return if state[:map_at] && !remap?(state, now)

        @busy = true
        begin
          state[:map_at] = now if write_map(state[:generation])
          state[:allocated] = allocated
        ensure
          @busy = false
        end
      end

      private

      def allocated = GC.stat(:total_allocated_objects)

      def remap?(state, now)
        now - state[:map_at] > REMAP_AFTER && allocated - state[:allocated] >= REMAP_ALLOCATIONS
      end

      # The heap map from a throwaway sibling fork (dump_all must not run in the server: on 3.1 it sets
      # coderange bits), written under a temporary name and renamed into place; then the meta file, which
      # names the map's inode and size, so a reader can tell a map from the one it replaces.
      def write_map(generation)
        d = dir
        return false unless Live.private_dir?(d)

        base = File.join(d, Process.pid.to_s)
        started = monotonic
        sibling = fork do
          status = 1
          begin
            tmp = "#{base}.heap.jsonl.#{Process.pid}.tmp"
            File.open(tmp, File::WRONLY | File::CREAT | File::EXCL | File::NOFOLLOW, 0o600) do |f|
              ObjectSpace.dump_all(output: f, **Cowscope.dump_options)
              f.fsync
            end
            File.rename(tmp, "#{base}.heap.jsonl")
            status = 0
          ensure
            exit!(status) # never run the server's at_exit handlers (pidfiles…) in a helper fork
          end
        end
        _, st = Process.wait2(sibling)
        raise "heap map fork failed (#{st.inspect})" unless st.success?

        heap = File.lstat("#{base}.heap.jsonl")
        meta = {
          pid: Process.pid, ppid: Process.ppid, ruby: RUBY_VERSION, platform: RUBY_PLATFORM, epoch: Time.now.to_f,
          heapPageSize: GC::INTERNAL_CONSTANTS[:HEAP_PAGE_SIZE],
          slotSize: GC::INTERNAL_CONSTANTS[:RVALUE_SIZE] || GC::INTERNAL_CONSTANTS[:BASE_SLOT_SIZE],
          gcCount: GC.count, generation: generation, heapIno: heap.ino, heapSize: heap.size,
          seconds: monotonic - started, time: Time.now.utc.to_s
        }
        tmp = "#{base}.meta.json.#{Process.pid}.tmp"
        File.unlink(tmp) if File.symlink?(tmp) || File.exist?(tmp)
        File.open(tmp, File::WRONLY | File::CREAT | File::EXCL | File::NOFOLLOW, 0o600) { |f| f.write(JSON.generate(meta)) }
        File.rename(tmp, "#{base}.meta.json")
        clean(d)
        remove_at_exit(base)
        true
      rescue StandardError => e
        warn "cowscope agent: no heap map for #{Process.pid}: #{e.class}: #{e.message}"
        false
      end

      # A process that wrote a map removes it when it exits normally (a master shut down), so that maps of
      # servers that are gone do not wait for the next agent's fork to be swept (a Rails master's is
      # ~10-100 MB). Once per process; the handler is inherited by forked children and does nothing there.
      def remove_at_exit(base)
        return if @remove_at_exit == Process.pid

        pid = @remove_at_exit = Process.pid
        at_exit do
          next unless Process.pid == pid

          %w[heap.jsonl meta.json].each do |kind|
            File.unlink("#{base}.#{kind}")
          rescue SystemCallError
            nil
          end
        end
      end

      # Maps of processes that are gone, and temporary files of writers that are gone.
      def clean(d)
        Dir.each_child(d) do |name|
          m = MAP_FILE.match(name) or next
          owner = Integer(m[3] || m[1])
          next if owner == Process.pid || alive?(owner)

          File.unlink(File.join(d, name))
        rescue SystemCallError
          nil
        end
      end

      def alive?(pid)
        Process.kill(0, pid)
        !File.read("/proc/#{pid}/stat").split(') ', 2)[1].to_s.start_with?('Z')
      rescue Errno::ESRCH, Errno::ENOENT
        false
      rescue Errno::EPERM
        true
      end
    end

    # The map directory must be ours alone: created 0700 if missing; an existing one must be a real
    # directory (no symlink) owned by this user and not writable by others. Otherwise no map is written.
    def self.private_dir?(path)
      begin
        Dir.mkdir(path, 0o700) unless File.exist?(path) || File.symlink?(path)
      rescue Errno::EEXIST
        nil
      end
      st = File.lstat(path)
      return true if st.directory? && !st.symlink? && st.uid == Process.euid && (st.mode & 0o022).zero?

      warn "cowscope agent: #{path} is not a private directory of this user: no heap map written"
      false
    end

    # Prepended to Process's singleton class: Kernel#fork, Process.fork and IO.popen('-') all go through _fork.
    module ForkHook
      def _fork
        Cowscope::Live.before_fork
        super
      end
    end
  end
end

if Cowscope.active?
  Cowscope.start_controlled
  # --trace-allocations: the heap map then names each object's allocation site (file:line).
  ObjectSpace.trace_object_allocations_start if Cowscope::CONFIG['traceAllocations']
  at_exit { Cowscope.at_main_exit }
elsif Process.respond_to?(:_fork)
  Process.singleton_class.prepend(Cowscope::Live::ForkHook)
end
