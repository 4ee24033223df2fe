# The native addon: POSIX shared memory and a process-shared futex through plain Node-API (Linux only).
# Built by scripts/build-native.mjs (npm install, npm run build:native) into build/Release/procq_native.node.
{
  "targets": [
    {
      "target_name": "procq_native",
      "sources": ["src/native/procq.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fvisibility=hidden"],
      "libraries": ["-lpthread", "-lrt"],
      # Never unloaded: Node dlcloses an addon when the last worker that loaded it exits, which would run the
      # atexit handler (unlinking live segments) early and pull the code from under idle waiter threads.
      "ldflags": ["-Wl,-z,nodelete"]
    }
  ]
}
