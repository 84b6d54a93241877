{
  "targets": [
    {
      "target_name": "cowscope_probe",
      "sources": ["native/probe.cc", "native/heapdump.cc", "native/pointers.cc", "native/faults.cc", "native/classify.cc", "native/reuse.cc", "native/malloc.cc", "native/pointed.cc", "native/chunkwords.cc"],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"]
    }
  ]
}
