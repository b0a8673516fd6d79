/*
 * launch.c - the container's init: clone it into new namespaces, set up its
 * mounts and root, wait for containode's word, then run PROGRAM under it.
 *
 * Processes:
 *
 *   containode        the supervisor (main.c): makes eth0, waits, passes
 *     |               signals on, reports PROGRAM's exit status
 *     `- init         pid 1 of the new pid namespace: mounts, handshake,
 *          |            passes signals on, reaps orphans
 *          `- PROGRAM pid 2
 *
 * Handshake on a socket pair between containode and the init, one line per
 * message, containode to init only:
 *
 *   message           meaning
 *   ----------------  -----------------------------------------------------
 *   go\n              networking is ready: start PROGRAM
 *   abort <reason>\n  give up: the init prints "containode: aborted: <reason>"
 *                     and exits 125
 *
 * and one line back, init to containode:
 *
 *   started\n         PROGRAM was executed (sent after `go`; not sent when
 *                     exec failed, whose status then says why)
 *
 * The init reads containode's answer once its mounts are ready; end of file
 * or a read error count as abort. After `go` the init keeps the socket until
 * it knows whether PROGRAM was executed, says `started` if it was (a
 * containode that does not wait for it has closed its end: the line is lost,
 * harmlessly), and closes it. The socket is close-on-exec: PROGRAM never
 * inherits it.
 *
 * Exit status of the init (and so of containode):
 *
 *   125     setup error: a failed namespace or mount step, abort
 *   126     PROGRAM was found but could not be executed
 *   127     PROGRAM was not found
 *   128+N   PROGRAM was killed by signal N
 *   other   PROGRAM's own exit code
 *
 * Setup errors are printed as "containode: <step>: <path>: <strerror>".
 */
#include "launch.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fail.h"
#include "options.h"
#include "signals.h"

#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

/* Size of the init's clone() stack; the init keeps a few PATH_MAX buffers on it. */
#define CHILD_STACK_SIZE (1024 * 1024)
/* Stack pointer alignment required by the x86-64 and aarch64 ABIs. */
#define STACK_ALIGN 16
/* Longest handshake line kept; longer abort reasons are truncated. */
#define SYNC_LINE_MAX 512
/* mount(2) copies at most one page of filesystem options. */
#define MOUNT_DATA_MAX 4096

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/** Signals the init passes on to PROGRAM (and containode keeps blocked until it
 *  has its own handlers). */
const int cn_init_signals[] = {
    SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT,
};
/** How many cn_init_signals there are. */
const size_t cn_init_signal_count = sizeof cn_init_signals / sizeof cn_init_signals[0];

/** A character device created in the container's /dev. */
struct device_node {
    const char *name;
    unsigned int major;
    unsigned int minor;
};

static const struct device_node device_nodes[] = {
    {"null", 1, 3}, {"zero", 1, 5}, {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

/** A symbolic link created in the container's /dev. */
struct dev_link {
    const char *name;
    const char *target;
};

static const struct dev_link dev_links[] = {
    {"fd", "/proc/self/fd"},
    {"stdin", "/proc/self/fd/0"},
    {"stdout", "/proc/self/fd/1"},
    {"stderr", "/proc/self/fd/2"},
};

/**
 * The terminal on fd 0, if any. It is opened (O_PATH) before the container's
 * /dev hides the host's, so it can still be bind-mounted on dev/console.
 */
struct console {
    int fd;               /* O_PATH fd of the terminal, or -1 if none */
    char path[PATH_MAX];  /* ttyname(0), for messages */
};


/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

/** Writes ROOT joined with the relative path REL into OUT (PATH_MAX bytes). */
static void root_path(char *out, const char *root, const char *rel)
{
    size_t len = strlen(root);
    const char *sep = (len > 0 && root[len - 1] == '/') ? "" : "/";
    int n = snprintf(out, PATH_MAX, "%s%s%s", root, sep, rel);

    if (n < 0 || n >= PATH_MAX) {
        errno = ENAMETOOLONG;
        cn_fail("path", rel);
    }
}

/** Creates directory PATH with MODE unless it already exists. */
static void ensure_dir(const char *path, mode_t mode)
{
    if (mkdir(path, mode) < 0 && errno != EEXIST)
        cn_fail("mkdir", path);
}

/** Closes FD; EINTR still means the fd is gone on Linux. */
static void close_fd(int fd, const char *what)
{
    if (close(fd) < 0 && errno != EINTR)
        cn_fail("close", what);
}


/** Sends all LEN bytes of BUF on socket FD without raising SIGPIPE. */
static int send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}


/* ------------------------------------------------------------------------ */
/* Init setup, step by step (runs as pid 1 of the new pid namespace)        */
/* ------------------------------------------------------------------------ */

/**
 * Step 1: die with SIGKILL when containode dies.
 * If the parent died before prctl() took effect we were reparented and
 * getppid() changed. Inside the new pid namespace getppid() is 0 both before
 * and after, so for the init the real guard for that window is the sync
 * socket: a dead containode closes it and await_go() aborts.
 */
static void set_parent_death_signal(pid_t parent_before)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
        cn_fail("prctl", "PR_SET_PDEATHSIG");
    if (getppid() != parent_before) {
        errno = ESRCH;
        cn_fail("prctl", "parent exited during startup");
    }
}

/** Step 2: stop mounts from propagating between the host and the container. */
static void make_mounts_private(void)
{
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        cn_fail("mount", "/");
}

/**
 * Step 3: mount the overlay root (lowerdir ROOT, upper and work in TOP) on
 * TOP/merged and write that path to NEWROOT (PATH_MAX bytes).
 */
static void mount_overlay_root(const char *root, const char *top, char *newroot)
{
    char upper[PATH_MAX], work[PATH_MAX], data[MOUNT_DATA_MAX];
    struct stat st;
    int n;

    if (stat(root, &st) < 0)
        cn_fail("stat", root);
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        cn_fail("stat", root);
    }
    root_path(upper, top, "upper");
    root_path(work, top, "work");
    root_path(newroot, top, "merged");
    ensure_dir(top, 0755); /* the default ROOT.ID does not exist yet */
    ensure_dir(upper, 0755);
    ensure_dir(work, 0755);
    ensure_dir(newroot, 0755);

    n = snprintf(data, sizeof data, "lowerdir=%s,upperdir=%s,workdir=%s", root, upper, work);
    if (n < 0 || (size_t)n >= sizeof data) {
        errno = ENAMETOOLONG;
        cn_fail("mount overlay", newroot);
    }
    if (mount("overlay", newroot, "overlay", 0, data) < 0)
        cn_fail("mount overlay", newroot);
}

/**
 * Step 4a: note the terminal on fd 0 while the host's /dev is still visible.
 * A terminal that cannot be named (one from another mount namespace) is
 * treated as no terminal.
 */
static void find_console(struct console *console)
{
    console->fd = -1;
    console->path[0] = '\0';
    if (!isatty(STDIN_FILENO))
        return;
    if (ttyname_r(STDIN_FILENO, console->path, sizeof console->path) != 0)
        return;
    console->fd = open(console->path, O_PATH | O_CLOEXEC);
    if (console->fd < 0)
        cn_fail("open", console->path);
}

/** Step 4b: mount a proc for the new pid namespace on NEWROOT/proc. */
static void mount_proc(const char *newroot)
{
    char path[PATH_MAX];

    root_path(path, newroot, "proc");
    ensure_dir(path, 0555);
    if (mount("proc", path, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        cn_fail("mount proc", path);
}

/** Step 4c: mount an empty tmpfs on NEWROOT/dev. */
static void mount_dev(const char *newroot)
{
    char path[PATH_MAX];

    root_path(path, newroot, "dev");
    ensure_dir(path, 0755);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_STRICTATIME, "mode=755,size=65536k") < 0)
        cn_fail("mount tmpfs", path);
}

/** Step 4d: mount a private devpts instance on dev/pts; dev/ptmx points at it. */
static void mount_devpts(const char *newroot)
{
    char path[PATH_MAX], ptmx[PATH_MAX];
    const unsigned long flags = MS_NOSUID | MS_NOEXEC;

    root_path(path, newroot, "dev/pts");
    ensure_dir(path, 0755);
    if (mount("devpts", path, "devpts", flags, "newinstance,ptmxmode=0666,mode=0620,gid=5") < 0 &&
        mount("devpts", path, "devpts", flags, "newinstance,ptmxmode=0666,mode=0620") < 0)
        cn_fail("mount devpts", path);

    root_path(ptmx, newroot, "dev/ptmx");
    if (symlink("pts/ptmx", ptmx) < 0)
        cn_fail("symlink", ptmx);
}

/** Step 4e: create null, zero, random, urandom and tty in dev. */
static void make_device_nodes(const char *newroot)
{
    char rel[32], path[PATH_MAX];
    size_t i;

    for (i = 0; i < sizeof device_nodes / sizeof device_nodes[0]; i++) {
        const struct device_node *node = &device_nodes[i];

        snprintf(rel, sizeof rel, "dev/%s", node->name);
        root_path(path, newroot, rel);
        if (mknod(path, S_IFCHR | 0666, makedev(node->major, node->minor)) < 0)
            cn_fail("mknod", path);
    }
}

/**
 * Step 4f: create dev/console: containode's terminal bind-mounted onto an
 * empty file, or a plain console device (5,1) when fd 0 is no terminal.
 */
static void make_console(const char *newroot, struct console *console)
{
    char path[PATH_MAX], source[64];
    int fd;

    root_path(path, newroot, "dev/console");
    if (console->fd < 0) {
        if (mknod(path, S_IFCHR | 0600, makedev(5, 1)) < 0)
            cn_fail("mknod", path);
        return;
    }

    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        cn_fail("create", path);
    close_fd(fd, path);
    /* The host's /dev may be hidden by now: reach the terminal through our fd. */
    snprintf(source, sizeof source, "/proc/self/fd/%d", console->fd);
    if (mount(source, path, NULL, MS_BIND, NULL) < 0)
        cn_fail("bind mount", console->path);
    close_fd(console->fd, console->path);
    console->fd = -1;
}

/** Step 4g: create the fd, stdin, stdout and stderr links in dev. */
static void make_dev_symlinks(const char *newroot)
{
    char rel[32], path[PATH_MAX];
    size_t i;

    for (i = 0; i < sizeof dev_links / sizeof dev_links[0]; i++) {
        snprintf(rel, sizeof rel, "dev/%s", dev_links[i].name);
        root_path(path, newroot, rel);
        if (symlink(dev_links[i].target, path) < 0)
            cn_fail("symlink", path);
    }
}

/** Step 4h: mount a world-writable tmpfs on dev/shm. */
static void mount_dev_shm(const char *newroot)
{
    char path[PATH_MAX];

    root_path(path, newroot, "dev/shm");
    ensure_dir(path, 01777);
    if (mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") < 0)
        cn_fail("mount tmpfs", path);
}

/**
 * Step 4i: mount a read-only sysfs on NEWROOT/sys, if that directory exists,
 * so it lists the new network namespace's devices. Failure is only a warning.
 */
static void mount_sysfs(const char *newroot)
{
    char path[PATH_MAX];
    struct stat st;

    root_path(path, newroot, "sys");
    if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode))
        return;
    if (mount("sysfs", path, "sysfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        fprintf(stderr, "containode: warning: mount sysfs: %s: %s\n", path, strerror(errno));
}

/** Step 4: give NEWROOT its own /proc, /dev and (with a new net ns) /sys. */
static void populate_root(const char *newroot, bool new_net)
{
    struct console console;

    find_console(&console);
    mount_proc(newroot);
    mount_dev(newroot);
    mount_devpts(newroot);
    make_device_nodes(newroot);
    make_console(newroot, &console);
    make_dev_symlinks(newroot);
    mount_dev_shm(newroot);
    if (new_net)
        mount_sysfs(newroot);
}

/** Step 5: make NEWROOT the root directory and drop the old root. */
static void pivot_into(const char *newroot)
{
    if (chdir(newroot) < 0)
        cn_fail("chdir", newroot);
    if (syscall(SYS_pivot_root, ".", ".") < 0)
        cn_fail("pivot_root", newroot);
    /* The old root is now stacked on "."; detaching it leaves the new one. */
    if (umount2(".", MNT_DETACH) < 0)
        cn_fail("umount", "old root");
    if (chdir("/") < 0)
        cn_fail("chdir", "/");
}

/**
 * Step 5b: bring the loopback interface of a new network namespace up, so
 * 127.0.0.1 works even in a container that has no other interface.
 */
static void loopback_up(void)
{
    struct ifreq ifr;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        cn_fail("socket", "loopback");
    memset(&ifr, 0, sizeof ifr);
    strcpy(ifr.ifr_name, "lo");
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
        cn_fail("SIOCGIFFLAGS", "lo");
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
        cn_fail("SIOCSIFFLAGS", "lo");
    close_fd(fd, "loopback socket");
}

/** Step 6: set the hostname in the new UTS namespace. */
static void set_hostname(const char *name)
{
    if (sethostname(name, strlen(name)) < 0)
        cn_fail("sethostname", name);
}

/**
 * Step 7: read containode's answer line from the sync socket FD. Returns on
 * "go" (FD stays open); anything else prints "containode: aborted: ..." and
 * exits 125. Reads one byte at a time so it never consumes past the line.
 */
static void await_go(int fd)
{
    char line[SYNC_LINE_MAX];
    size_t len = 0;
    const char *reason = NULL;

    for (;;) {
        char ch;
        ssize_t n = read(fd, &ch, 1);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            reason = strerror(errno);
            break;
        }
        if (n == 0) {
            reason = "sync socket closed before go";
            break;
        }
        if (ch == '\n')
            break;
        if (len + 1 < sizeof line)
            line[len++] = ch; /* the rest of an overlong line is dropped */
    }
    line[len] = '\0';

    if (reason == NULL) {
        if (strcmp(line, "go") == 0)
            return; /* the socket stays open for "started" */
        if (strcmp(line, "abort") == 0)
            reason = "no reason given";
        else if (strncmp(line, "abort ", 6) == 0)
            reason = line + 6;
        else
            reason = "unexpected message on the sync socket";
    }
    fprintf(stderr, "containode: aborted: %s\n", reason);
    _exit(CN_EXIT_SETUP);
}

/* ------------------------------------------------------------------------ */
/* PROGRAM (pid 2)                                                          */
/* ------------------------------------------------------------------------ */

/** Sets NAME=VALUE in the environment or fails. */
static void set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) < 0)
        cn_fail("setenv", name);
}

/** Restores default handling and an empty mask for the forwarded signals. */
static void reset_signals(void)
{
    struct sigaction sa;
    sigset_t none;
    size_t i;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = SIG_DFL;
    if (sigemptyset(&sa.sa_mask) < 0 || sigemptyset(&none) < 0)
        cn_fail("sigemptyset", NULL);
    for (i = 0; i < cn_init_signal_count; i++)
        if (sigaction(cn_init_signals[i], &sa, NULL) < 0)
            cn_fail("sigaction", NULL);
    if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
        cn_fail("sigprocmask", NULL);
}

/**
 * Replaces the environment with a fresh one: PATH, HOME (root's home in the
 * container's passwd, else /root), TERM (containode's, else xterm),
 * HOSTNAME, container=containode, then every --env.
 */
static void build_environment(const struct cn_launch *opts)
{
    const char *term = getenv("TERM");
    char *term_copy = strdup(term != NULL ? term : "xterm");
    const struct passwd *pw;
    const char *home = "/root";
    size_t i;

    if (term_copy == NULL)
        cn_fail("strdup", "TERM");
    pw = getpwuid(0); /* reads the container's /etc/passwd */
    if (pw != NULL && pw->pw_dir != NULL && pw->pw_dir[0] != '\0')
        home = pw->pw_dir;

    if (clearenv() != 0)
        cn_fail("clearenv", NULL);
    set_env("PATH", DEFAULT_PATH);
    set_env("HOME", home);
    set_env("TERM", term_copy);
    set_env("HOSTNAME", opts->hostname);
    set_env("container", "containode");
    for (i = 0; i < opts->env_count; i++)
        if (putenv(opts->envs[i]) != 0)
            cn_fail("putenv", opts->envs[i]);
    free(term_copy);
}

/** Changes to $HOME, or to / when that fails. */
static void enter_home(void)
{
    const char *home = getenv("HOME");

    if (home != NULL && chdir(home) == 0)
        return;
    if (chdir("/") < 0)
        cn_fail("chdir", "/");
}

/**
 * Step 9, in the forked child: set up PROGRAM's process and exec it. If exec
 * fails, errno goes to the init through the close-on-exec pipe REPORT_FD and
 * the child exits 127 (not found) or 126 (cannot execute).
 */
_Noreturn static void exec_program(const struct cn_launch *opts, int report_fd)
{
    int err;
    ssize_t n;

    reset_signals();
    build_environment(opts);
    enter_home();
    execvp(opts->argv[0], opts->argv);

    err = errno;
    do
        n = write(report_fd, &err, sizeof err);
    while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof err) /* the init will not know: say it ourselves */
        fprintf(stderr, "containode: exec %s: %s\n", opts->argv[0], strerror(err));
    _exit(err == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC);
}

/**
 * Waits until PROGRAM either executed (the pipe FD closes) or reported an
 * exec error, which is then printed as "containode: exec PROGRAM: ...".
 * Returns whether PROGRAM was executed.
 */
static bool report_exec_failure(int fd, const char *program)
{
    int err = 0;
    size_t got = 0;

    while (got < sizeof err) {
        ssize_t n = read(fd, (char *)&err + got, sizeof err - got);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            cn_fail("read", "exec report pipe");
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close_fd(fd, "exec report pipe");
    if (got == sizeof err)
        fprintf(stderr, "containode: exec %s: %s\n", program, strerror(err));
    return got != sizeof err;
}

/* ------------------------------------------------------------------------ */
/* The init                                                                 */
/* ------------------------------------------------------------------------ */

/**
 * Step 10: reap every child (orphans of the pid namespace land here) until
 * PROGRAM exits; returns its exit code. Blocks in waitid(), no polling.
 */
static int reap_until_program_exits(pid_t program)
{
    for (;;) {
        int status;
        pid_t pid = cn_wait_and_reap(-1, &status);

        if (pid < 0)
            cn_fail("wait", NULL);
        if (pid == program)
            return cn_exit_code_of(status);
    }
}

/**
 * Steps 8 to 10: forward signals, fork PROGRAM as pid 2 and act as the
 * namespace's init until it exits. Returns PROGRAM's exit code.
 */
static int run_init(const struct cn_launch *opts)
{
    sigset_t forwarded;
    int report[2];
    pid_t program;

    cn_forward_pid = 0;
    /* step 8: blocked until PROGRAM exists */
    if (cn_signals_block(cn_init_signals, cn_init_signal_count, &forwarded) < 0 ||
        cn_signals_forward(cn_init_signals, cn_init_signal_count) < 0)
        cn_fail("signals", NULL);
    if (pipe2(report, O_CLOEXEC) < 0)
        cn_fail("pipe", NULL);

    program = fork(); /* step 9 */
    if (program < 0)
        cn_fail("fork", opts->argv[0]);
    if (program == 0) {
        close_fd(report[0], "exec report pipe");
        exec_program(opts, report[1]);
    }
    cn_forward_pid = program;
    close_fd(report[1], "exec report pipe");
    if (sigprocmask(SIG_UNBLOCK, &forwarded, NULL) < 0)
        cn_fail("sigprocmask", NULL);

    if (report_exec_failure(report[0], opts->argv[0]))
        (void)send_all(opts->sync_fd, "started\n", 8); /* nobody listening: no matter */
    close(opts->sync_fd);
    return reap_until_program_exits(program); /* step 10 */
}

/**
 * Entry point of the cloned child, pid 1 of the new pid namespace: runs the
 * setup steps in order, then becomes the init. ARG is the struct cn_launch.
 * Runs with the forwarded signals still blocked (inherited from
 * containode), so signals sent during setup wait for PROGRAM.
 */
static int container_init(void *arg)
{
    const struct cn_launch *opts = arg;
    pid_t parent_before = getppid();
    char newroot[PATH_MAX] = "/";
    mode_t saved_umask;

    set_parent_death_signal(parent_before);             /* 1 */
    close_fd(opts->peer_fd, "containode's end of the sync socket");
    if (opts->private_fd >= 0)
        close_fd(opts->private_fd, "containode's --ready-fd");
    saved_umask = umask(0); /* create nodes and dirs with exact modes */
    make_mounts_private();                              /* 2 */
    if (opts->root != NULL)                             /* 3 */
        mount_overlay_root(opts->root, opts->top, newroot);
    populate_root(newroot, !opts->keep_net);            /* 4 */
    if (opts->root != NULL)                             /* 5 */
        pivot_into(newroot);
    if (!opts->keep_net)
        loopback_up();
    set_hostname(opts->hostname);                       /* 6 */
    await_go(opts->sync_fd);                            /* 7 */
    umask(saved_umask);
    return run_init(opts);                              /* 8-10 */
}

/* ------------------------------------------------------------------------ */
/* containode's side                                                        */
/* ------------------------------------------------------------------------ */

pid_t cn_launch_start(struct cn_launch *l, int *sync_fd)
{
    int flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | SIGCHLD;
    int pair[2];
    sigset_t blocked;
    char *stack;
    uintptr_t stack_top;
    pid_t pid;
    int err;

    if (!l->keep_net)
        flags |= CLONE_NEWNET;
    if (!l->keep_ipc)
        flags |= CLONE_NEWIPC;
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
        cn_fail("socketpair", NULL);
    l->peer_fd = pair[0];
    l->sync_fd = pair[1];
    /* The init inherits the mask: its signals wait until PROGRAM runs. */
    if (cn_signals_block(cn_init_signals, cn_init_signal_count, &blocked) < 0)
        cn_fail("sigprocmask", NULL);

    stack = malloc(CHILD_STACK_SIZE);
    if (stack == NULL)
        cn_fail("malloc", "init stack");
    /* The stack grows down: start at its aligned end. */
    stack_top = ((uintptr_t)stack + CHILD_STACK_SIZE) & ~(uintptr_t)(STACK_ALIGN - 1);
    pid = clone(container_init, (void *)stack_top, flags, l);
    err = errno;
    free(stack); /* no CLONE_VM: the child runs on its own copy */
    if (pid < 0) {
        errno = err;
        cn_fail("clone", l->argv[0]);
    }
    close_fd(l->sync_fd, "the init's end of the sync socket");
    l->sync_fd = -1;
    *sync_fd = pair[0];
    return pid;
}

int cn_launch_go(int sync_fd)
{
    int rc = send_all(sync_fd, "go\n", 3);

    close(sync_fd);
    return rc;
}

int cn_launch_go_started(int sync_fd)
{
    char line[16];
    size_t len = 0;
    int rc = -1;

    if (send_all(sync_fd, "go\n", 3) == 0) {
        while (len + 1 < sizeof line) {
            ssize_t n = read(sync_fd, &line[len], 1);

            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            if (line[len] == '\n') {
                line[len] = '\0';
                rc = strcmp(line, "started") == 0 ? 0 : -1;
                break;
            }
            len++;
        }
    }
    close(sync_fd);
    return rc;
}

void cn_launch_abort(int sync_fd, const char *reason)
{
    char line[SYNC_LINE_MAX];
    int n = snprintf(line, sizeof line - 1, "abort %s", reason);

    if (n < 0)
        n = 0;
    if ((size_t)n > sizeof line - 2)
        n = (int)(sizeof line - 2);
    for (int i = 6; i < n; i++)
        if (line[i] == '\n' || line[i] == '\r')
            line[i] = ' ';
    line[n++] = '\n';
    (void)send_all(sync_fd, line, (size_t)n); /* a dead init needs no word: its status says */
    close(sync_fd);
}
