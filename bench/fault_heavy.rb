# A workload that faults a lot, for the fault-tracing overhead benchmark: each child appends to 200k
# old strings (copying the GC heap pages and malloc'd buffers they live on) and allocates ~64 MiB of
# new memory (a fault per new page). Each child appends its workload time (s, CLOCK_MONOTONIC, measured
# inside Ruby) to the file named by COWSCOPE_BENCH_OUT.
$strings = Array.new(200_000) { |i| format('%-100d', i) }
4.times { GC.start }

Cowscope.workload do
  t = Process.clock_gettime(Process::CLOCK_MONOTONIC)
  GC.disable
  $strings.each { |s| s << '!' }
  $fresh = Array.new(64) { 'x' * (1024 * 1024) }
  took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - t
  File.open(ENV.fetch('COWSCOPE_BENCH_OUT'), 'a') { |f| f.puts(took) }
end
