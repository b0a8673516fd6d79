{
  # The dataplane core (native/core, plain C11) is linked into the Node addon
  # (native/addon, the only code that touches N-API). The container launcher,
  # containode, is an executable of its own: a running container must not cost
  # a Node process, and it clones into namespaces, which a multi-threaded Node
  # process cannot do safely.
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-g", "-fno-strict-aliasing", "-D_GNU_SOURCE"],
    "cflags_c": ["-std=c11"],
  },
  "targets": [
    {
      "target_name": "containet",
      # Every C file of the core, of every kind (native/kinds/*/) and of the
      # client side, so that a new kind adds files and no line here.
      "sources": [
        "<!@(ls native/core/*.c native/kinds/*.c native/kinds/*/*.c native/client/*.c)",
        "native/addon/addon.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")", "native/core", "native/client"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags": ["<!@(pkg-config --cflags slirp)", "<!@(pkg-config --cflags libpcap)"],
      "libraries": ["-lpthread", "-lm", "<!@(pkg-config --libs slirp)", "<!@(pkg-config --libs libpcap)"]
    },
    {
      # containode, the container launcher: plain C11, no Node headers; one
      # file per concern under native/containode/, and the client side of the
      # switch socket (native/client/).
      "target_name": "containode",
      "type": "executable",
      "sources": ["<!@(ls native/containode/*.c)", "<!@(ls native/client/*.c)"],
      "include_dirs": ["native/client"],
      "libraries": ["-lpthread"]
    },
    {
      # Unit tests of containode's command line and JSON (options.c, json.c, attach.c's backoff).
      "target_name": "containode-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_containode.c", "native/containode/options.c", "native/containode/json.c",
                  "native/containode/attach.c", "<!@(ls native/client/*.c)"],
      "include_dirs": ["native/containode", "native/client"],
      "libraries": ["-lpthread"]
    },
    {
      # Unit tests of the core on its own, run by test/core-unit.test.ts.
      "target_name": "core-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_gso.c", "native/core/gso.c", "native/core/offload.c"],
      "include_dirs": ["native/core"]
    },
    {
      # Unit tests of the tunnel kinds' headers, flow hash and remotes (encap.c).
      "target_name": "tunnel-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_tunnel.c", "native/kinds/tunnel/encap.c", "native/kinds/tunnel/gro.c",
                  "native/core/gso.c", "native/core/offload.c"],
      "include_dirs": ["native/core", "native/kinds/tunnel"]
    },
    {
      # Unit tests of the capture file encoding (pcap, pcapng).
      "target_name": "pcapfile-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_pcapfile.c", "native/core/pcapfile.c"],
      "include_dirs": ["native/core"]
    },
    {
      # Unit tests of the settings parser every kind's policy goes through.
      "target_name": "attr-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_attr.c", "native/core/attr.c"],
      "include_dirs": ["native/core"],
      "libraries": ["-lm"]
    },
    {
      # Unit tests of the link emulator's decisions and timing (shaper.c).
      "target_name": "shaper-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_shaper.c", "native/kinds/a2b/shaper.c"],
      "include_dirs": ["native/kinds/a2b"],
      "libraries": ["-lm"]
    },
    {
      # Unit tests of the vhost-user handler and the virtqueue walker.
      "target_name": "vhost-unit-tests",
      "type": "executable",
      "sources": ["native/test/test_vhost.c", "native/kinds/vhost/vhost_user.c", "native/kinds/vhost/virtq.c",
                  "native/kinds/vhost/vhost_mem.c", "native/kinds/vhost/vhost_guard.c"],
      "include_dirs": ["native/kinds/vhost"],
      "libraries": ["-lpthread"]
    }
  ]
}
