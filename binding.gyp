{
  # The dataplane core (native/core, plain C11) is linked into the Node addon
  # (native/addon, the only code that touches N-API). The container launcher is a
  # separate executable because it must fork and enter namespaces, which a
  # multi-threaded Node process cannot do safely.
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-g", "-fno-strict-aliasing", "-D_GNU_SOURCE"],
    "cflags_c": ["-std=c11"],
  },
  "targets": [
    {
      "target_name": "containet",
      "sources": [
        "native/core/pktpool.c",
        "native/core/offload.c",
        "native/core/gso.c",
        "native/core/mactable.c",
        "native/core/lan.c",
        "native/core/port_fd.c",
        "native/core/vhost_mem.c",
        "native/core/virtq.c",
        "native/core/vhost_user.c",
        "native/core/port_vhost.c",
        "native/core/port_nat.c",
        "native/core/nat_dns.c",
        "native/core/shaper.c",
        "native/core/port_a2b.c",
        "native/core/ctl.c",
        "native/core/engine.c",
        "native/core/tapdev.c",
        "native/core/fdmsg.c",
        "native/addon/addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/core"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["<!@(pkg-config --cflags slirp)"],
      "libraries": ["-lpthread", "-lm", "<!@(pkg-config --libs slirp)"]
    },
    {
      "target_name": "containode-launch",
      "type": "executable",
      "sources": ["native/launcher/containode_launch.c"]
    },
    {
      # Unit tests of the core on its own, run by test/core-unit.test.ts.
      "target_name": "core-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_gso.c", "native/core/gso.c", "native/core/offload.c"]
    },
    {
      # Unit tests of the link emulator's decisions and timing (shaper.c).
      "target_name": "shaper-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_shaper.c", "native/core/shaper.c"],
      "libraries": ["-lm"]
    },
    {
      # Unit tests of the vhost-user handler and the virtqueue walker.
      "target_name": "vhost-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_vhost.c", "native/core/vhost_user.c", "native/core/virtq.c",
                  "native/core/vhost_mem.c"]
    }
  ]
}
