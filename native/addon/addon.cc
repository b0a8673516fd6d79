// addon.cc - the Node binding: the only code that touches N-API.
//
// It wraps the C engine in a JS class and exposes a few fd helpers. The engine runs
// on its own thread for the life of the daemon and reports through a
// ThreadSafeFunction (an AsyncWorker would hold a libuv pool thread forever).
// Every argument is checked here before it reaches C, and every C error comes back
// as a JS Error carrying the engine's reason.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

extern "C" {
#include "capture.h"
#include "mirror.h"
#include "engine.h"
#include "fdmsg.h"
#include "tapdev.h"
}

namespace {

// One engine event, copied off the engine thread.
struct Event {
  ctn_event_type type = CTN_EV_LOG;
  uint32_t id = 0;
  std::string data;
  std::vector<int> fds;
  int pid = 0, uid = 0, gid = 0;
  std::string text;
};

// Close the fds of an event nobody will receive.
void DropEvent(Event* ev) {
  for (int fd : ev->fds)
    if (fd >= 0) close(fd);
  delete ev;
}

// Turn an event into the JS object handed to the callback.
Napi::Object EventObject(Napi::Env env, const Event& ev) {
  Napi::Object o = Napi::Object::New(env);
  switch (ev.type) {
    case CTN_EV_PORT_DOWN:
      o.Set("type", "port-down");
      o.Set("port", ev.id);
      o.Set("reason", ev.text);
      break;
    case CTN_EV_CTL_OPEN:
      o.Set("type", "ctl-open");
      o.Set("conn", ev.id);
      o.Set("pid", ev.pid);
      o.Set("uid", ev.uid);
      o.Set("gid", ev.gid);
      break;
    case CTN_EV_CTL_DATA: {
      o.Set("type", "ctl-data");
      o.Set("conn", ev.id);
      o.Set("data", Napi::Buffer<char>::Copy(env, ev.data.data(), ev.data.size()));
      Napi::Array fds = Napi::Array::New(env, ev.fds.size());
      for (size_t i = 0; i < ev.fds.size(); i++) fds.Set(i, ev.fds[i]);
      o.Set("fds", fds);
      break;
    }
    case CTN_EV_CTL_CLOSED:
      o.Set("type", "ctl-closed");
      o.Set("conn", ev.id);
      break;
    case CTN_EV_CTL_EOF:
      o.Set("type", "ctl-eof");
      o.Set("conn", ev.id);
      break;
    case CTN_EV_LOG:
      o.Set("type", "log");
      o.Set("message", ev.text);
      break;
  }
  return o;
}

// Read an unsigned 32-bit argument or throw.
uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), std::string(what) + " must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != static_cast<uint32_t>(d))
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an unsigned 32-bit integer");
  return static_cast<uint32_t>(d);
}

// Read a file descriptor argument (>= 0) or throw.
int FdArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsNumber())
    throw Napi::TypeError::New(info.Env(), "fd must be a number");
  int fd = info[i].As<Napi::Number>().Int32Value();
  if (fd < 0) throw Napi::RangeError::New(info.Env(), "fd must be >= 0");
  return fd;
}

// A kind's settings for the engine: a JS object flattened into named values
// (struct ctn_attr), a nested object's members named "object.member", null and
// undefined left out. Which names a kind takes and what they mean is the kind's
// policy (native/kinds/*), checked by the engine: nothing here knows a kind.
class Settings {
 public:
  Settings(Napi::Env env, const Napi::Value& v) {
    if (!v.IsUndefined()) {
      if (!v.IsObject() || v.IsArray()) throw Napi::TypeError::New(env, "settings must be an object");
      Collect(env, v.As<Napi::Object>(), "");
    }
    // Pointers into entries_ are taken once it no longer grows.
    for (const Entry& e : entries_)
      attrs_.push_back(ctn_attr{e.name.c_str(), e.type, e.num, e.b, e.str.c_str()});
  }
  const ctn_attr* data() const { return attrs_.data(); }
  uint32_t size() const { return static_cast<uint32_t>(attrs_.size()); }

 private:
  struct Entry {
    std::string name;
    ctn_val_type type;
    double num = 0;
    bool b = false;
    std::string str;
  };

  // Add the members of @o, their names prefixed with @prefix.
  void Collect(Napi::Env env, const Napi::Object& o, const std::string& prefix) {
    Napi::Array keys = o.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); i++) {
      std::string key = keys.Get(i).ToString().Utf8Value();
      std::string name = prefix + key;
      Napi::Value v = o.Get(key);
      if (v.IsNull() || v.IsUndefined()) continue;
      if (v.IsNumber()) entries_.push_back(Entry{name, CTN_VAL_NUM, v.As<Napi::Number>().DoubleValue(), false, {}});
      else if (v.IsBoolean()) entries_.push_back(Entry{name, CTN_VAL_BOOL, 0, v.As<Napi::Boolean>().Value(), {}});
      else if (v.IsString()) entries_.push_back(Entry{name, CTN_VAL_STR, 0, false, v.As<Napi::String>().Utf8Value()});
      else if (v.IsObject() && !v.IsArray() && !v.IsFunction() && prefix.empty()) Collect(env, v.As<Napi::Object>(), name + ".");
      else throw Napi::TypeError::New(env, "setting \"" + name + "\" must be a number, a boolean, a string or an object of those");
    }
  }

  std::vector<Entry> entries_;
  std::vector<ctn_attr> attrs_;
};

// Throw the engine's reason when a call failed.
int Check(Napi::Env env, int rc, const char* err) {
  if (rc < 0) throw Napi::Error::New(env, err);
  return rc;
}

// The JS class around one engine.
class Engine : public Napi::ObjectWrap<Engine> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("addLan", &Engine::AddLan),
                           InstanceMethod("setLanAging", &Engine::SetLanAging),
                           InstanceMethod("delLan", &Engine::DelLan),
                           InstanceMethod("lanStats", &Engine::LanStats),
                           InstanceMethod("addPort", &Engine::AddPort),
                           InstanceMethod("setPort", &Engine::SetPort),
                           InstanceMethod("setPortAdmin", &Engine::SetPortAdmin),
                           InstanceMethod("watchPid", &Engine::WatchPid),
                           InstanceMethod("delPort", &Engine::DelPort),
                           InstanceMethod("portStats", &Engine::PortStats),
                           InstanceMethod("listen", &Engine::Listen),
                           InstanceMethod("ctlSend", &Engine::CtlSend),
                           InstanceMethod("ctlClose", &Engine::CtlClose),
                           InstanceMethod("ref", &Engine::Ref),
                           InstanceMethod("unref", &Engine::Unref),
                           InstanceMethod("close", &Engine::Close),
                           InstanceMethod("threads", &Engine::Threads),
                           InstanceMethod("captureStart", &Engine::CaptureStart),
                           InstanceMethod("captureStats", &Engine::CaptureStats),
                           InstanceMethod("captureAddPort", &Engine::CaptureAddPort),
                           InstanceMethod("captureStop", &Engine::CaptureStop),
                           InstanceMethod("mirrorStart", &Engine::MirrorStart),
                           InstanceMethod("mirrorStats", &Engine::MirrorStats),
                           InstanceMethod("mirrorStop", &Engine::MirrorStop),
                       });
  }

  // new Engine(onEvent, { poolSize, threads, pollUs, busyPoll })
  Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsFunction())
      throw Napi::TypeError::New(env, "Engine(onEvent, options): onEvent must be a function");
    ctn_engine_cfg cfg{};
    if (info.Length() > 1 && info[1].IsObject()) {
      Napi::Value ps = info[1].As<Napi::Object>().Get("poolSize");
      if (ps.IsNumber()) cfg.pool_size = ps.As<Napi::Number>().Uint32Value();
      Napi::Value th = info[1].As<Napi::Object>().Get("threads");
      if (th.IsNumber()) cfg.threads = th.As<Napi::Number>().Uint32Value();
      Napi::Value pu = info[1].As<Napi::Object>().Get("pollUs");
      if (pu.IsNumber()) cfg.poll_us = pu.As<Napi::Number>().Uint32Value();
      Napi::Value bp = info[1].As<Napi::Object>().Get("busyPoll");
      if (bp.IsBoolean()) cfg.busy_poll = bp.As<Napi::Boolean>().Value();
    }
    tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "containet-engine", 0, 1);
    char err[256] = "";
    engine_ = ctn_engine_new(&cfg, &Engine::OnEvent, this, err, sizeof(err));
    if (!engine_) {
      tsfn_.Release();
      throw Napi::Error::New(env, err);
    }
  }

  ~Engine() override { Shutdown(); }

 private:
  // Engine thread: copy the event and queue it for the JS thread.
  static void OnEvent(void* opaque, const ctn_event* ev) {
    auto* self = static_cast<Engine*>(opaque);
    auto* e = new Event();
    e->type = ev->type;
    e->id = ev->id;
    if (ev->data) e->data.assign(reinterpret_cast<const char*>(ev->data), ev->len);
    e->fds.assign(ev->fds, ev->fds + ev->nfds);
    e->pid = ev->pid;
    e->uid = static_cast<int>(ev->uid);
    e->gid = static_cast<int>(ev->gid);
    if (ev->text) e->text = ev->text;
    napi_status st = self->tsfn_.NonBlockingCall(e, [](Napi::Env env, Napi::Function cb, Event* data) {
      if (env == nullptr) {  // shutting down: nobody will take the fds
        DropEvent(data);
        return;
      }
      Napi::Object o = EventObject(env, *data);
      delete data;
      cb.Call({o});
    });
    if (st != napi_ok) DropEvent(e);
  }

  // Stop the engine and release the callback; idempotent.
  void Shutdown() {
    for (auto& [id, c] : captures_) ctn_capture_free(c, nullptr);
    captures_.clear();
    for (auto& [id, m] : mirrors_) ctn_mirror_free(m, nullptr);
    mirrors_.clear();
    if (engine_) {
      ctn_engine_free(engine_);
      engine_ = nullptr;
      tsfn_.Release();
    }
  }

  ctn_engine* Live(Napi::Env env) {
    if (!engine_) throw Napi::Error::New(env, "engine is closed");
    return engine_;
  }

  // addLan({ macTableSize, agingMs }) -> lan id
  Napi::Value AddLan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ctn_lan_cfg cfg{8192, 300000};
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object o = info[0].As<Napi::Object>();
      if (o.Get("macTableSize").IsNumber()) cfg.mac_table_size = o.Get("macTableSize").As<Napi::Number>().Uint32Value();
      if (o.Get("agingMs").IsNumber()) cfg.aging_ms = static_cast<uint64_t>(o.Get("agingMs").As<Napi::Number>().Int64Value());
    }
    char err[256] = "";
    return Napi::Number::New(env, Check(env, ctn_engine_lan_add(Live(env), &cfg, err, sizeof(err)), err));
  }

  // setLanAging(lan, agingMs)
  Napi::Value SetLanAging(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t lan = U32Arg(info, 0, "lan");
    uint64_t ms = U32Arg(info, 1, "agingMs");
    char err[256] = "";
    Check(env, ctn_engine_lan_set_aging(Live(env), lan, ms, err, sizeof(err)), err);
    return env.Undefined();
  }

  // delLan(lan)
  Napi::Value DelLan(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t lan = U32Arg(info, 0, "lan");
    char err[256] = "";
    Check(env, ctn_engine_lan_del(Live(env), lan, err, sizeof(err)), err);
    return env.Undefined();
  }

  // lanStats(lan) -> counters
  Napi::Value LanStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t lan = U32Arg(info, 0, "lan");
    ctn_lan_stats st{};
    char err[256] = "";
    Check(env, ctn_engine_lan_stats(Live(env), lan, &st, err, sizeof(err)), err);
    Napi::Object o = Napi::Object::New(env);
    o.Set("ports", st.nports);
    o.Set("macs", st.macs);
    o.Set("macCapacity", st.mac_capacity);
    o.Set("agingMs", static_cast<double>(st.aging_ms));
    o.Set("learned", static_cast<double>(st.mac.learned));
    o.Set("moved", static_cast<double>(st.mac.moved));
    o.Set("evicted", static_cast<double>(st.mac.evicted));
    o.Set("expired", static_cast<double>(st.mac.expired));
    o.Set("flooded", static_cast<double>(st.flooded));
    o.Set("unknownUnicast", static_cast<double>(st.unknown_unicast));
    o.Set("filtered", static_cast<double>(st.filtered));
    return o;
  }

  // Port description as a JS object.
  static Napi::Object InfoObject(Napi::Env env, uint32_t id, const ctn_port_info& pi) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", id);
    o.Set("kind", pi.kind);
    o.Set("ifname", pi.ifname);
    o.Set("vnetHdr", pi.vnet_hdr);
    o.Set("packetInfo", pi.packet_info);
    o.Set("hdrLen", pi.hdr_len);
    Napi::Array off = Napi::Array::New(env);
    uint32_t n = 0;
    if (pi.caps & CTN_CAP_CSUM) off.Set(n++, "csum");
    if (pi.caps & CTN_CAP_TSO) off.Set(n++, "tso");
    if (pi.caps & CTN_CAP_USO) off.Set(n++, "uso");
    o.Set("offloads", off);
    o.Set("broken", pi.broken);
    o.Set("admin", pi.admin_down ? "down" : "up");
    o.Set("reason", pi.reason);
    o.Set("thread", pi.worker);
    o.Set("state", pi.state);
    Napi::Object counters = Napi::Object::New(env);
    for (uint32_t i = 0; i < pi.ncounters && i < CTN_PORT_COUNTERS; i++)
      counters.Set(pi.counters[i].name, static_cast<double>(pi.counters[i].value));
    o.Set("counters", counters);
    return o;
  }

  // addPort(kind, lans, settings, thread?) -> [port info, ...]: an object of a
  // kind of port (the engine's table, native/kinds/kinds.c) with its settings,
  // one port per side, each on its lan of lans. thread: the worker that polls
  // them (default: the least loaded). An fd among the settings is the engine's
  // only if this returns.
  Napi::Value AddPort(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "kind must be a string");
    std::string kind = info[0].As<Napi::String>();
    if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "lans must be an array of lan ids");
    Napi::Array a = info[1].As<Napi::Array>();
    if (a.Length() < 1 || a.Length() > CTN_KIND_MAX_SIDES)
      throw Napi::RangeError::New(env, "lans: 1 to " + std::to_string(CTN_KIND_MAX_SIDES) + " lan ids");
    uint32_t lans[CTN_KIND_MAX_SIDES];
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
      if (d < 0 || d > 4294967295.0 || d != static_cast<uint32_t>(d)) throw Napi::TypeError::New(env, "lans must be lan ids");
      lans[i] = static_cast<uint32_t>(d);
    }
    Settings settings(env, info.Length() > 2 ? info[2] : env.Undefined());
    int worker = -1;
    if (info.Length() > 3 && !info[3].IsUndefined()) worker = static_cast<int>(U32Arg(info, 3, "thread"));
    uint32_t ids[CTN_KIND_MAX_SIDES];
    ctn_port_info pi[CTN_KIND_MAX_SIDES]{};
    char err[256] = "";
    int n = Check(env, ctn_engine_port_add(Live(env), kind.c_str(), settings.data(), settings.size(), lans, a.Length(), worker, ids, pi, err, sizeof(err)), err);
    Napi::Array out = Napi::Array::New(env, static_cast<size_t>(n));
    for (int i = 0; i < n; i++) out.Set(static_cast<uint32_t>(i), InfoObject(env, ids[i], pi[i]));
    return out;
  }

  // setPort(port, settings): change a port's settings by its kind's set hook.
  Napi::Value SetPort(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = U32Arg(info, 0, "port");
    if (info.Length() < 2 || !info[1].IsObject()) throw Napi::TypeError::New(env, "settings must be an object");
    Settings settings(env, info[1]);
    char err[256] = "";
    Check(env, ctn_engine_port_set(Live(env), port, settings.data(), settings.size(), err, sizeof(err)), err);
    return env.Undefined();
  }

  // setPortAdmin(port, down): take a port administratively down (a pulled
  // link: it drops both ways, counted admin_down_rx and _tx) or up; in force on return.
  Napi::Value SetPortAdmin(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = U32Arg(info, 0, "port");
    if (info.Length() < 2 || !info[1].IsBoolean()) throw Napi::TypeError::New(env, "down must be true or false");
    char err[256] = "";
    Check(env, ctn_engine_port_admin(Live(env), port, info[1].As<Napi::Boolean>().Value(), err, sizeof(err)), err);
    return env.Undefined();
  }

  // watchPid(port, pid): remove the port when that process exits.
  Napi::Value WatchPid(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = U32Arg(info, 0, "port");
    uint32_t pid = U32Arg(info, 1, "pid");
    if (pid == 0) throw Napi::RangeError::New(env, "pid must be > 0");
    char err[256] = "";
    Check(env, ctn_engine_port_watch_pid(Live(env), port, static_cast<pid_t>(pid), err, sizeof(err)), err);
    return env.Undefined();
  }

  // delPort(port)
  Napi::Value DelPort(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = U32Arg(info, 0, "port");
    char err[256] = "";
    Check(env, ctn_engine_port_del(Live(env), port, err, sizeof(err)), err);
    return env.Undefined();
  }

  // portStats(port) -> counters and description
  Napi::Value PortStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t port = U32Arg(info, 0, "port");
    ctn_port_stats st{};
    ctn_port_info pi{};
    char err[256] = "";
    Check(env, ctn_engine_port_stats(Live(env), port, &st, &pi, err, sizeof(err)), err);
    Napi::Object o = InfoObject(env, port, pi);
    o.Set("rxPackets", static_cast<double>(st.rx_packets));
    o.Set("rxBytes", static_cast<double>(st.rx_bytes));
    o.Set("txPackets", static_cast<double>(st.tx_packets));
    o.Set("txBytes", static_cast<double>(st.tx_bytes));
    Napi::Object drops = Napi::Object::New(env);
    for (int i = 0; i < CTN_DROP_MAX; i++) drops.Set(ctn_drop_names[i], static_cast<double>(st.drops[i]));
    o.Set("drops", drops);
    return o;
  }

  // listen(path)
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
    std::string path = info[0].As<Napi::String>();
    char err[256] = "";
    Check(env, ctn_engine_ctl_listen(Live(env), path.c_str(), err, sizeof(err)), err);
    return env.Undefined();
  }

  // ctlSend(conn, data: string | Buffer, closeAfter)
  Napi::Value CtlSend(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t conn = U32Arg(info, 0, "conn");
    std::string data;
    if (info.Length() > 1 && info[1].IsBuffer()) {
      auto b = info[1].As<Napi::Buffer<char>>();
      data.assign(b.Data(), b.Length());
    } else if (info.Length() > 1 && info[1].IsString()) {
      data = info[1].As<Napi::String>().Utf8Value();
    } else {
      throw Napi::TypeError::New(env, "data must be a string or a Buffer");
    }
    bool close_after = info.Length() > 2 && info[2].ToBoolean();
    char err[256] = "";
    int rc = ctn_engine_ctl_send(Live(env), conn, data.data(), data.size(), close_after, err, sizeof(err));
    return Napi::Boolean::New(env, rc == 0);  // false: the client is gone
  }

  // ctlClose(conn)
  Napi::Value CtlClose(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t conn = U32Arg(info, 0, "conn");
    char err[256] = "";
    int rc = ctn_engine_ctl_close(Live(env), conn, err, sizeof(err));
    return Napi::Boolean::New(env, rc == 0);
  }

  Napi::Value Ref(const Napi::CallbackInfo& info) {
    if (engine_) tsfn_.Ref(info.Env());
    return info.Env().Undefined();
  }

  Napi::Value Unref(const Napi::CallbackInfo& info) {
    if (engine_) tsfn_.Unref(info.Env());
    return info.Env().Undefined();
  }

  // close(): stop the thread, close every port and connection, remove the socket file.
  // threads() -> number of worker threads
  Napi::Value Threads(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), ctn_engine_threads(Live(info.Env())));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Shutdown();
    return info.Env().Undefined();
  }

  // Counters of a capture as a JS object.
  static Napi::Object CaptureObject(Napi::Env env, const struct ctn_capture_stats& st) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("frames", static_cast<double>(st.frames));
    o.Set("bytes", static_cast<double>(st.bytes));
    o.Set("drops", static_cast<double>(st.drops));
    o.Set("filtered", static_cast<double>(st.filtered));
    o.Set("done", st.done);
    o.Set("reason", st.reason);
    return o;
  }

  // A sink's direction from JS ("in", "out"; anything else: not a sink, 0).
  static uint32_t SinkAs(const Napi::Value& v) {
    if (!v.IsString()) return 0;
    std::string s = v.As<Napi::String>().Utf8Value();
    return s == "in" ? CTN_OBS_IN : s == "out" ? CTN_OBS_OUT : 0;
  }

  // captureStart(fd, ports: [{id, name, as?}], { format, snaplen, count, dir, filter, ringBytes, segment }) -> capture id.
  // A port with `as` ("in" or "out") is a sink (ctn_capture_new). The fd is the capture's only if this returns.
  Napi::Value CaptureStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int fd = FdArg(info, 0);
    if (info.Length() < 2 || !info[1].IsArray()) throw Napi::TypeError::New(env, "ports must be an array of {id, name}");
    Napi::Array a = info[1].As<Napi::Array>();
    std::vector<uint32_t> ids;
    std::vector<uint32_t> as;
    std::vector<std::string> names;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsObject()) throw Napi::TypeError::New(env, "ports must be an array of {id, name}");
      Napi::Object po = v.As<Napi::Object>();
      if (!po.Get("id").IsNumber() || !po.Get("name").IsString()) throw Napi::TypeError::New(env, "ports must be an array of {id, name}");
      ids.push_back(po.Get("id").As<Napi::Number>().Uint32Value());
      names.push_back(po.Get("name").As<Napi::String>().Utf8Value());
      as.push_back(SinkAs(po.Get("as")));
    }
    std::vector<const char*> cnames;
    for (const auto& n : names) cnames.push_back(n.c_str());
    ctn_capture_cfg cfg{};
    std::string filter;
    if (info.Length() > 2 && info[2].IsObject()) {
      Napi::Object o = info[2].As<Napi::Object>();
      cfg.format = o.Get("format").IsString() && o.Get("format").As<Napi::String>().Utf8Value() == "pcap" ? CTN_PCAP_CLASSIC : CTN_PCAP_NG;
      if (o.Get("snaplen").IsNumber()) cfg.snaplen = o.Get("snaplen").As<Napi::Number>().Uint32Value();
      if (o.Get("count").IsNumber()) cfg.count = static_cast<uint64_t>(o.Get("count").As<Napi::Number>().Int64Value());
      if (o.Get("ringBytes").IsNumber()) cfg.ring_bytes = static_cast<size_t>(o.Get("ringBytes").As<Napi::Number>().Int64Value());
      std::string dir = o.Get("dir").IsString() ? o.Get("dir").As<Napi::String>().Utf8Value() : "both";
      cfg.dirs = dir == "in" ? CTN_OBS_IN : dir == "out" ? CTN_OBS_OUT : CTN_OBS_IN | CTN_OBS_OUT;
      if (o.Get("filter").IsString()) filter = o.Get("filter").As<Napi::String>().Utf8Value();
      cfg.segment = o.Get("segment").ToBoolean();
    }
    cfg.filter = filter.c_str();
    char err[512] = "";
    ctn_capture* c = ctn_capture_new(Live(env), fd, &cfg, ids.data(), cnames.data(), as.data(), static_cast<uint32_t>(ids.size()), err, sizeof(err));
    if (!c) throw Napi::Error::New(env, err);
    uint32_t id = ++last_capture_;
    captures_[id] = c;
    return Napi::Number::New(env, id);
  }

  // The capture with id info[0], or throw.
  ctn_capture* CaptureArg(const Napi::CallbackInfo& info) {
    uint32_t id = U32Arg(info, 0, "capture");
    auto it = captures_.find(id);
    if (it == captures_.end()) throw Napi::Error::New(info.Env(), "no capture " + std::to_string(id));
    return it->second;
  }

  // captureAddPort(id, port, name, as?): watch one more port (a lan's new port; `as`: a sink).
  Napi::Value CaptureAddPort(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    ctn_capture* c = CaptureArg(info);
    uint32_t port = U32Arg(info, 1, "port");
    if (info.Length() < 3 || !info[2].IsString()) throw Napi::TypeError::New(env, "captureAddPort(id, port, name: string)");
    std::string name = info[2].As<Napi::String>().Utf8Value();
    char err[256] = "";
    if (ctn_capture_add_port(c, port, name.c_str(), info.Length() > 3 ? SinkAs(info[3]) : 0, err, sizeof(err)) < 0) throw Napi::Error::New(env, err);
    return env.Undefined();
  }

  // captureStats(id) -> { frames, bytes, drops, filtered, done, reason }
  Napi::Value CaptureStats(const Napi::CallbackInfo& info) {
    struct ctn_capture_stats st{};
    ctn_capture_stats(CaptureArg(info), &st);
    return CaptureObject(info.Env(), st);
  }

  // captureStop(id) -> final counters; the capture's fd is closed.
  Napi::Value CaptureStop(const Napi::CallbackInfo& info) {
    ctn_capture* c = CaptureArg(info);
    captures_.erase(U32Arg(info, 0, "capture"));
    struct ctn_capture_stats st{};
    ctn_capture_free(c, &st);
    return CaptureObject(info.Env(), st);
  }

  // Counters of a mirror as a JS object.
  static Napi::Object MirrorObject(Napi::Env env, const struct ctn_mirror_stats& st) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("frames", static_cast<double>(st.frames));
    o.Set("bytes", static_cast<double>(st.bytes));
    o.Set("drops", static_cast<double>(st.drops));
    return o;
  }

  // mirrorStart(ports: number[], out: number, dir: "in"|"out"|"both") -> mirror id.
  Napi::Value MirrorStart(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsArray() || !info[1].IsNumber() || !info[2].IsString())
      throw Napi::TypeError::New(env, "mirrorStart(ports: number[], out: number, dir: string, sinks?: number[])");
    Napi::Array a = info[0].As<Napi::Array>();
    std::vector<uint32_t> ids;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber()) throw Napi::TypeError::New(env, "ports must be an array of port ids");
      ids.push_back(v.As<Napi::Number>().Uint32Value());
    }
    uint32_t out = info[1].As<Napi::Number>().Uint32Value();
    std::string dir = info[2].As<Napi::String>().Utf8Value();
    uint32_t dirs = dir == "in" ? CTN_OBS_IN : dir == "out" ? CTN_OBS_OUT : CTN_OBS_IN | CTN_OBS_OUT;
    // Sinks (ports fed by another switch's mirror) are watched IN, whatever dir says.
    std::vector<uint32_t> port_dirs(ids.size(), dirs);
    if (info.Length() > 3 && info[3].IsArray()) {
      Napi::Array s = info[3].As<Napi::Array>();
      for (uint32_t i = 0; i < s.Length(); i++) {
        if (!s.Get(i).IsNumber()) throw Napi::TypeError::New(env, "sinks must be an array of port ids");
        ids.push_back(s.Get(i).As<Napi::Number>().Uint32Value());
        port_dirs.push_back(CTN_OBS_IN);
      }
    }
    char err[256] = "";
    ctn_mirror* m = ctn_mirror_new(Live(env), ids.data(), port_dirs.data(), static_cast<uint32_t>(ids.size()), out, dirs, err, sizeof(err));
    if (!m) throw Napi::Error::New(env, err);
    uint32_t id = ++last_mirror_;
    mirrors_[id] = m;
    return Napi::Number::New(env, id);
  }

  // The mirror with id info[0], or throw.
  ctn_mirror* MirrorArg(const Napi::CallbackInfo& info) {
    uint32_t id = U32Arg(info, 0, "mirror");
    auto it = mirrors_.find(id);
    if (it == mirrors_.end()) throw Napi::Error::New(info.Env(), "no mirror " + std::to_string(id));
    return it->second;
  }

  // mirrorStats(id) -> { frames, bytes, drops }
  Napi::Value MirrorStats(const Napi::CallbackInfo& info) {
    struct ctn_mirror_stats st{};
    ctn_mirror_stats(MirrorArg(info), &st);
    return MirrorObject(info.Env(), st);
  }

  // mirrorStop(id) -> final counters; the output port is back on its lan.
  Napi::Value MirrorStop(const Napi::CallbackInfo& info) {
    ctn_mirror* m = MirrorArg(info);
    mirrors_.erase(U32Arg(info, 0, "mirror"));
    struct ctn_mirror_stats st{};
    ctn_mirror_free(m, &st);
    return MirrorObject(info.Env(), st);
  }

  ctn_engine* engine_ = nullptr;
  Napi::ThreadSafeFunction tsfn_;
  std::map<uint32_t, ctn_capture*> captures_;  // running captures by id
  uint32_t last_capture_ = 0;
  std::map<uint32_t, ctn_mirror*> mirrors_;  // running mirrors by id
  uint32_t last_mirror_ = 0;
};

// tapCreate({ netns, ifname, vnetHdr, packetInfo, mtu, ipv4, prefix, up, loUp, attach, unpersist,
//             exclusive, addrs, mac }[, queues]) -> fd, or with queues an array of queues fds
// (a multi-queue tap when queues > 1, queue 0's fd first);
// with attach, the existing tap's fd (never a new tap, nothing configured; with
// unpersist no longer persistent); with exclusive, a new tap or an error (a name in use)
Napi::Value TapCreate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) throw Napi::TypeError::New(env, "tapCreate(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  if (!o.Get("ifname").IsString()) throw Napi::TypeError::New(env, "ifname must be a string");
  std::string ifname = o.Get("ifname").As<Napi::String>();
  std::string netns, ipv4;
  ctn_tap_req req{};
  req.ifname = ifname.c_str();
  if (o.Get("netns").IsString()) {
    netns = o.Get("netns").As<Napi::String>().Utf8Value();
    req.netns = netns.c_str();
  }
  if (o.Get("ipv4").IsString()) {
    ipv4 = o.Get("ipv4").As<Napi::String>().Utf8Value();
    req.ipv4 = ipv4.c_str();
    req.prefix = o.Get("prefix").IsNumber() ? o.Get("prefix").As<Napi::Number>().Int32Value() : 24;
  }
  req.vnet_hdr = o.Get("vnetHdr").ToBoolean();
  req.packet_info = o.Get("packetInfo").ToBoolean();
  req.mtu = o.Get("mtu").IsNumber() ? o.Get("mtu").As<Napi::Number>().Int32Value() : 0;
  req.up = o.Get("up").IsUndefined() ? true : o.Get("up").ToBoolean().Value();
  req.lo_up = o.Get("loUp").ToBoolean();
  req.attach = o.Get("attach").ToBoolean();
  req.unpersist = o.Get("unpersist").ToBoolean();
  req.exclusive = o.Get("exclusive").ToBoolean();
  std::vector<std::string> addrs;
  if (o.Get("addrs").IsArray()) {
    Napi::Array a = o.Get("addrs").As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++) {
      if (!a.Get(i).IsString()) throw Napi::TypeError::New(env, "addrs must be strings");
      addrs.push_back(a.Get(i).As<Napi::String>().Utf8Value());
    }
  }
  std::vector<const char*> addrp;
  for (const auto& x : addrs) addrp.push_back(x.c_str());
  req.addrs = addrp.data();
  req.n_addrs = static_cast<int>(addrp.size());
  std::string mac;
  if (o.Get("mac").IsString()) {
    mac = o.Get("mac").As<Napi::String>().Utf8Value();
    req.mac = mac.c_str();
  }
  char err[256] = "";
  int more[CTN_TAP_MAX_QUEUES] = {0};
  bool many = info.Length() > 1 && !info[1].IsUndefined();
  if (many) {
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "queues must be a number");
    req.queues = info[1].As<Napi::Number>().Int32Value();
    req.queue_fds = more;
  }
  int fd = Check(env, ctn_tap_create(&req, err, sizeof(err)), err);
  if (!many) return Napi::Number::New(env, fd);
  Napi::Array fds = Napi::Array::New(env);
  fds.Set(0u, Napi::Number::New(env, fd));
  for (int i = 1; i < req.queues; i++) fds.Set(static_cast<uint32_t>(i), Napi::Number::New(env, more[i - 1]));
  return fds;
}

// tapNetns(fd) -> { dev, ino } of the network namespace tun/tap fd's device is in,
// or null when the kernel cannot say (not a tap, kernel before 5.2)
Napi::Value TapNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  unsigned long long dev = 0, ino = 0;
  if (ctn_tap_netns_id(fd, &dev, &ino) < 0) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("dev", static_cast<double>(dev));
  o.Set("ino", static_cast<double>(ino));
  return o;
}

// ifIndex(name) -> the index of device @name in the caller's network namespace, 0 when none
Napi::Value IfIndex(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "ifIndex(name)");
  std::string name = info[0].As<Napi::String>();
  return Napi::Number::New(env, if_nametoindex(name.c_str()));
}

// One request on the switch socket, off the JS thread.
class RequestWorker : public Napi::AsyncWorker {
 public:
  RequestWorker(Napi::Env env, std::string path, std::string json, std::vector<int> fds, int timeout)
      : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)), path_(std::move(path)),
        json_(std::move(json)), fds_(std::move(fds)), timeout_(timeout) {}
  Napi::Promise Promise() { return deferred_.Promise(); }

  void Execute() override {
    std::vector<char> reply(1 << 20);
    char err[256] = "";
    long n = ctn_fdmsg_request(path_.c_str(), json_.data(), json_.size(), fds_.data(), static_cast<int>(fds_.size()),
                               reply.data(), reply.size(), timeout_, err, sizeof(err));
    if (n < 0)
      SetError(err);
    else
      reply_.assign(reply.data(), static_cast<size_t>(n));
  }
  void OnOK() override { deferred_.Resolve(Napi::String::New(Env(), reply_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::string path_, json_, reply_;
  std::vector<int> fds_;
  int timeout_;
};

// request(path, json, fd | -1 | fd[], timeoutMs) -> Promise<reply string>
Napi::Value Request(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
    throw Napi::TypeError::New(env, "request(path, json, fds, timeoutMs)");
  std::vector<int> fds;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    if (a.Length() > CTN_FDMSG_MAX_FDS) throw Napi::RangeError::New(env, "too many fds for one request");
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value v = a.Get(i);
      if (!v.IsNumber() || v.As<Napi::Number>().Int32Value() < 0) throw Napi::TypeError::New(env, "fds must be numbers >= 0");
      fds.push_back(v.As<Napi::Number>().Int32Value());
    }
  } else if (info.Length() > 2 && info[2].IsNumber() && info[2].As<Napi::Number>().Int32Value() >= 0) {
    fds.push_back(info[2].As<Napi::Number>().Int32Value());
  }
  int timeout = info.Length() > 3 && info[3].IsNumber() ? info[3].As<Napi::Number>().Int32Value() : 5000;
  auto* w = new RequestWorker(env, info[0].As<Napi::String>(), info[1].As<Napi::String>(), std::move(fds), timeout);
  Napi::Promise p = w->Promise();
  w->Queue();
  return p;
}

// closeFd(fd)
Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  return Napi::Boolean::New(info.Env(), close(fd) == 0);
}

// socketpair("dgram" | "seqpacket" | "stream") -> [fd, fd], both non-blocking
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string t = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "dgram";
  int type = t == "dgram" ? SOCK_DGRAM : t == "seqpacket" ? SOCK_SEQPACKET : t == "stream" ? SOCK_STREAM : -1;
  if (type < 0) throw Napi::TypeError::New(env, "type must be dgram, seqpacket or stream");
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
    throw Napi::Error::New(env, std::string("socketpair: ") + strerror(errno));
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, sv[0]);
  a.Set(1u, sv[1]);
  return a;
}

// fdWrite(fd, buffer) -> bytes written, or -errno
Napi::Value FdWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  if (info.Length() < 2 || !info[1].IsBuffer()) throw Napi::TypeError::New(env, "data must be a Buffer");
  auto b = info[1].As<Napi::Buffer<char>>();
  ssize_t n = write(fd, b.Data(), b.Length());
  return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
}

// fdRead(fd, timeoutMs) -> Buffer with one read's bytes, or null on timeout
Napi::Value FdRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int timeout = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Int32Value() : 0;
  pollfd p{fd, POLLIN, 0};
  int r;
  do r = poll(&p, 1, timeout); while (r < 0 && errno == EINTR);
  if (r <= 0) return env.Null();
  std::vector<char> buf(CTN_BUF_SIZE);
  ssize_t n = read(fd, buf.data(), buf.size());
  if (n < 0) {
    if (errno == EAGAIN) return env.Null();
    throw Napi::Error::New(env, std::string("read: ") + strerror(errno));
  }
  return Napi::Buffer<char>::Copy(env, buf.data(), static_cast<size_t>(n));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Engine", Engine::Define(env));
  exports.Set("tapCreate", Napi::Function::New(env, TapCreate));
  exports.Set("tapNetns", Napi::Function::New(env, TapNetns));
  exports.Set("ifIndex", Napi::Function::New(env, IfIndex));
  exports.Set("request", Napi::Function::New(env, Request));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd));
  exports.Set("socketpair", Napi::Function::New(env, SocketPair));
  exports.Set("fdWrite", Napi::Function::New(env, FdWrite));
  exports.Set("fdRead", Napi::Function::New(env, FdRead));
  return exports;
}

}  // namespace

NODE_API_MODULE(containet, Init)
