import CLouterSystem
import Glibc

/// A failed system call: the call's name and errno.
public struct IOError: Error, Sendable, CustomStringConvertible {
  /// errno.
  public let errno: Int32
  /// The system call that failed.
  public let function: String

  /// `function: strerror(errno)`.
  public var description: String { "\(function): \(String(cString: strerror(errno)))" }
}

/// The outcome of a non-blocking call: done, or it would block.
public enum IOResult<Value> {
  case done(Value)
  case wouldBlock
}

/// Every system call louter makes, each behind one wrapper that retries EINTR, maps EAGAIN to
/// `.wouldBlock` and turns errno into `IOError`.
public enum Posix {
  @inline(__always)
  static func call(_ function: String, _ body: () -> Int) throws(IOError) -> IOResult<Int> {
    while true {
      let result = body()
      if result >= 0 { return .done(result) }
      let code = errno
      if code == EINTR { continue }
      if code == EAGAIN || code == EWOULDBLOCK { return .wouldBlock }
      throw IOError(errno: code, function: function)
    }
  }

  @inline(__always)
  static func mustComplete(_ function: String, _ body: () -> Int) throws(IOError) -> Int {
    switch try call(function, body) {
    case .done(let value): return value
    case .wouldBlock: throw IOError(errno: EAGAIN, function: function)
    }
  }

  /// Nanoseconds on the clock `ContinuousClock` reads on Linux (`CLOCK_BOOTTIME`: monotonic, and it
  /// counts time suspended). Never fails for this clock id; a zero reading would only make deadlines early.
  static func continuousNanoseconds() -> Int64 {
    var time = timespec()
    _ = clock_gettime(CLOCK_BOOTTIME, &time)
    return Int64(time.tv_sec) &* 1_000_000_000 &+ Int64(time.tv_nsec)
  }

  /// Blocks `signals` in the calling thread and in every thread it starts afterwards, so that they stay
  /// pending until ``waitForSignal(_:)`` takes one: a signal that arrives early is never lost or fatal.
  public static func blockSignals(_ signals: [Int32]) {
    var set = signalSet(signals)
    pthread_sigmask(SIG_BLOCK, &set, nil)
  }

  /// Waits until one of `signals` (blocked beforehand with ``blockSignals(_:)``) is pending and takes it.
  public static func waitForSignal(_ signals: [Int32]) -> Int32 {
    var set = signalSet(signals)
    var received: Int32 = 0
    // sigwait fails only for an invalid set, which `signalSet` never builds; retry rather than trap.
    while sigwait(&set, &received) != 0 {}
    return received
  }

  private static func signalSet(_ signals: [Int32]) -> sigset_t {
    var set = sigset_t()
    sigemptyset(&set)
    for signalNumber in signals { sigaddset(&set, signalNumber) }
    return set
  }

  /// Whether a descriptor is a terminal (for colour decisions).
  public static func isTerminal(_ fd: Int32) -> Bool {
    isatty(fd) == 1
  }

  /// Raises the soft limit on open descriptors to the hard one (each client connection and each upstream
  /// connection holds one); returns the limit now in force.
  @discardableResult
  public static func raiseDescriptorLimit() -> UInt64 {
    guard var limit = descriptorLimits() else { return 0 }
    if limit.rlim_cur < limit.rlim_max {
      var raised = limit
      raised.rlim_cur = limit.rlim_max
      if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
    }
    return UInt64(limit.rlim_cur)
  }

  /// The soft limit on open descriptors now in force; nil when it cannot be read or is unlimited.
  public static func descriptorLimit() -> Int? {
    // Unlimited (`RLIM_INFINITY`, all bits set) does not fit an Int and reads as nil.
    descriptorLimits().flatMap { Int(exactly: $0.rlim_cur) }
  }

  /// The soft and hard limits on open descriptors; nil when they cannot be read.
  private static func descriptorLimits() -> rlimit? {
    var limit = rlimit()
    return getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 ? limit : nil
  }

  /// User and system CPU time this process has used, all threads, in seconds; nil when it cannot be read.
  public static func cpuSeconds() -> Double? {
    var usage = rusage()
    guard getrusage(RUSAGE_SELF.rawValue, &usage) == 0 else { return nil }
    let seconds = usage.ru_utime.tv_sec + usage.ru_stime.tv_sec
    let micros = usage.ru_utime.tv_usec + usage.ru_stime.tv_usec
    return Double(seconds) + Double(micros) / 1_000_000
  }

  /// The processors online now (at least 1): the default number of workers.
  public static var processorCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

  /// Gives the kernel back the whole free pages of every malloc arena (`malloc_trim(0)`); returns true
  /// when some were released.
  public static func returnFreeMemory() -> Bool {
    clouter_malloc_trim() == 1
  }

  /// Ignores SIGPIPE for the process: a peer that goes away must be an error, not a kill.
  public static func ignoreSIGPIPE() {
    signal(SIGPIPE, SIG_IGN)
  }

  /// Starts a detached thread named `name` (at most 15 bytes are kept) that runs `body`, with a stack of
  /// `stackSize` bytes when given. pthreads directly: Foundation's `Thread` would load all of Foundation
  /// (and its ICU data), about 12 MiB of resident pages, into a process that otherwise needs none of it.
  public static func startThread(name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void) {
    final class Start {
      let name: String
      let body: @Sendable () -> Void
      init(name: String, body: @escaping @Sendable () -> Void) {
        self.name = name
        self.body = body
      }
    }
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
    if let stackSize { pthread_attr_setstacksize(&attributes, stackSize) }
    let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
    var thread = pthread_t()
    let created = pthread_create(
      &thread, &attributes,
      { argument in
        guard let argument else { return nil }
        let start = Unmanaged<Start>.fromOpaque(argument).takeRetainedValue()
        _ = clouter_name_thread(String(decoding: start.name.utf8.prefix(15), as: UTF8.self))
        start.body()
        return nil
      }, start)
    // Without a thread the process cannot serve: the same outcome as Foundation's `Thread.start()`.
    precondition(created == 0, "pthread_create failed: \(created)")
  }

  /// A non-blocking, close-on-exec TCP listener bound to `host:port` (IPv4 or IPv6 literal, or `localhost`).
  public static func listen(host: String, port: Int, backlog: Int32 = 4096) throws(IOError) -> (fd: Int32, port: Int) {
    let isV6 = host.contains(":")
    let family = isV6 ? AF_INET6 : AF_INET
    let fd = Int32(
      try mustComplete("socket") {
        Int(
          socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
      })
    var one: Int32 = 1
    _ = try mustComplete("setsockopt") {
      Int(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)))
    }
    do throws(IOError) {
      if isV6 {
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else {
          throw IOError(errno: EINVAL, function: "inet_pton")
        }
        _ = try mustComplete("bind") {
          Int(
            withUnsafePointer(to: &address) {
              $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
              }
            })
        }
      } else {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else {
          throw IOError(errno: EINVAL, function: "inet_pton")
        }
        _ = try mustComplete("bind") {
          Int(
            withUnsafePointer(to: &address) {
              $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
              }
            })
        }
      }
      _ = try mustComplete("listen") { Int(Glibc.listen(fd, backlog)) }
      return (fd, try boundPort(fd))
    } catch {
      Glibc.close(fd)
      throw error
    }
  }

  static func boundPort(_ fd: Int32) throws(IOError) -> Int {
    var storage = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    _ = try mustComplete("getsockname") {
      Int(
        withUnsafeMutablePointer(to: &storage) {
          $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        })
    }
    if storage.ss_family == sa_family_t(AF_INET6) {
      return withUnsafePointer(to: &storage) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
      }
    }
    return withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
    }
  }

  /// Accepts one connection, non-blocking and close-on-exec, with TCP_NODELAY set.
  public static func accept(_ listener: Int32) throws(IOError) -> IOResult<Int32> {
    switch try call("accept4", { Int(clouter_accept(listener)) }) {
    case .wouldBlock: return .wouldBlock
    case .done(let value):
      let fd = Int32(value)
      var one: Int32 = 1
      // Delayed ACKs with Nagle add tens of milliseconds to small writes: never batch.
      setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
      return .done(fd)
    }
  }

  /// The pending error of a socket (after a non-blocking connect), or nil.
  public static func socketError(_ fd: Int32) -> IOError? {
    var value: Int32 = 0
    var length = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) == 0 else {
      return IOError(errno: errno, function: "getsockopt")
    }
    return value == 0 ? nil : IOError(errno: value, function: "connect")
  }

  /// Reads into `buffer`; `.done(0)` is end of stream.
  public static func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) throws(IOError) -> IOResult<Int> {
    try call("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
  }

  /// Writes from `buffer` without raising SIGPIPE.
  public static func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) throws(IOError) -> IOResult<Int> {
    try call("send") { send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
  }

  /// Writes every byte of `bytes` to `fd` (a pipe, file or terminal), blocking until all are written: a
  /// short write continues, and a non-blocking descriptor that is full is waited on with `poll`. Only for
  /// threads that may block (the request log's writer), never the event loop. SIGPIPE must be ignored
  /// (``ignoreSIGPIPE()``) so that a reader that went away is an `EPIPE` error.
  public static func writeAll(fd: Int32, bytes: UnsafeRawBufferPointer) throws(IOError) {
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      switch try call("write", { Glibc.write(fd, base + offset, bytes.count - offset) }) {
      case .done(let written): offset += written
      case .wouldBlock:
        var waiter = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        _ = try call("poll") { Int(poll(&waiter, 1, -1)) }
      }
    }
  }

  /// Writes a short line (at most `PIPE_BUF`, 4 KiB) only when `fd` can take it now, else drops it; true when
  /// written. For notices from a thread that must never block on a reader that has stopped reading (the
  /// signal thread): a pipe reports writable only with room for `PIPE_BUF` bytes, and such a write is whole.
  @discardableResult
  public static func writeIfReady(fd: Int32, line: String) -> Bool {
    let bytes = Array(line.utf8)
    guard bytes.count <= Int(PIPE_BUF) else { return false }
    var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
    guard poll(&poller, 1, 0) == 1, poller.revents & Int16(POLLOUT) != 0 else { return false }
    return bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
  }

  /// Reads `fd` (a file, pipe or terminal, blocking) to its end or to `limit` bytes, whichever is first.
  /// For the command line only, never the event loop.
  public static func readAll(fd: Int32, limit: Int) throws(IOError) -> [UInt8] {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 64 << 10)
    while bytes.count < limit {
      let wanted = min(chunk.count, limit - bytes.count)
      let result = chunk.withUnsafeMutableBytes { buffer in
        Result { () throws(IOError) in try read(fd, into: UnsafeMutableRawBufferPointer(rebasing: buffer[..<wanted])) }
      }
      switch try result.get() {
      case .done(0): return bytes
      case .done(let count): bytes += chunk[0..<count]
      case .wouldBlock:
        var waiter = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        _ = try call("poll") { Int(poll(&waiter, 1, -1)) }
      }
    }
    return bytes
  }

  /// Opens a file for reading, close-on-exec.
  public static func openForReading(_ path: String) throws(IOError) -> Int32 {
    Int32(try mustComplete("open") { Int(Glibc.open(path, O_RDONLY | O_CLOEXEC)) })
  }

  /// The value of the environment variable `name`, if set.
  public static func environment(_ name: String) -> String? {
    getenv(name).map { String(cString: $0) }
  }

  /// True when the file at `path` exists and this process may read it.
  public static func isReadableFile(_ path: String) -> Bool { access(path, R_OK) == 0 }

  /// The running executable's full path (`/proc/self/exe`), or nil when it cannot be read.
  public static func executablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    let length = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard length > 0 else { return nil }
    return String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Loads a shared library for good (`dlopen`, its symbols resolved now and kept local to it), or with
  /// `nil` the executable itself; the loader's message when it cannot.
  static func loadLibrary(_ path: String?) -> Result<OpaquePointer, LoaderError> {
    guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
      return .failure(LoaderError(message: dlerror().map { String(cString: $0) } ?? "cannot load \(path ?? "louter")"))
    }
    return .success(OpaquePointer(handle))
  }

  /// Why `loadLibrary` failed, in the dynamic loader's words.
  struct LoaderError: Error {
    let message: String
  }

  /// The address of `name` in a library from `loadLibrary`.
  static func symbol(_ library: OpaquePointer, _ name: String) -> UnsafeMutableRawPointer? {
    dlsym(UnsafeMutableRawPointer(library), name)
  }

  /// Opens (creating with mode 0644 when missing) a file for appending, close-on-exec.
  public static func openForAppending(_ path: String) throws(IOError) -> Int32 {
    Int32(
      try mustComplete("open") { Int(Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)) })
  }

  /// Closes a descriptor; errors on close are not actionable.
  public static func close(_ fd: Int32) {
    _ = Glibc.close(fd)
  }

  /// Shuts down the write side so the peer sees end of stream after what was sent.
  public static func shutdownWrite(_ fd: Int32) {
    _ = shutdown(fd, Int32(SHUT_WR))
  }

  // MARK: epoll and eventfd

  /// A new epoll instance.
  public static func epollCreate() throws(IOError) -> Int32 {
    Int32(try mustComplete("epoll_create1") { Int(clouter_epoll_create()) })
  }

  /// Adds, modifies or deletes `fd` in `epoll` with `events` and a 64-bit token.
  public static func epollControl(_ epoll: Int32, _ operation: Int32, _ fd: Int32, events: UInt32, token: UInt64)
    throws(IOError)
  {
    _ = try mustComplete("epoll_ctl") { Int(clouter_epoll_ctl(epoll, operation, fd, events, token)) }
  }

  /// Waits for events; fills `events`/`tokens` and returns how many.
  public static func epollWait(
    _ epoll: Int32, events: UnsafeMutablePointer<UInt32>, tokens: UnsafeMutablePointer<UInt64>, capacity: Int32,
    timeoutMilliseconds: Int32
  ) throws(IOError) -> Int {
    switch try call("epoll_wait", { Int(clouter_epoll_wait(epoll, events, tokens, capacity, timeoutMilliseconds)) }) {
    case .done(let count): return count
    case .wouldBlock: return 0
    }
  }

  /// A non-blocking eventfd for waking the event loop.
  public static func eventFD() throws(IOError) -> Int32 {
    Int32(try mustComplete("eventfd") { Int(clouter_eventfd()) })
  }

  /// Adds one to an eventfd (wakes a waiter).
  public static func signalEventFD(_ fd: Int32) {
    var one: UInt64 = 1
    _ = try? call("write") { Glibc.write(fd, &one, 8) }
  }

  /// Lets another thread that is ready to run on this CPU run first (`sched_yield`); returns at once when none is.
  static func yieldProcessor() { _ = sched_yield() }

  /// Resets an eventfd after a wake-up.
  public static func drainEventFD(_ fd: Int32) {
    var value: UInt64 = 0
    _ = try? call("read") { Glibc.read(fd, &value, 8) }
  }

  static let epollAdd = clouter_EPOLL_CTL_ADD
  static let epollModify = clouter_EPOLL_CTL_MOD
  static let epollDelete = clouter_EPOLL_CTL_DEL
  static let epollIn = clouter_EPOLLIN
  static let epollOut = clouter_EPOLLOUT
  static let epollError = clouter_EPOLLERR
  static let epollHangUp = clouter_EPOLLHUP
  static let epollReadHangUp = clouter_EPOLLRDHUP
}

// MARK: name lookup and connecting to a SocketAddress

extension Posix {
  /// The most addresses one lookup keeps (a hostile resolver answer must not size an allocation).
  static let mostLookupAddresses = 32

  /// Every TCP address of `host` (a name; see ``ResolveError``'s name rule), IPv4 and IPv6, in the order
  /// getaddrinfo prefers (RFC 6724), each with `port`, duplicates dropped. Blocks for as long as the system
  /// resolver takes: call it only off the event loop, as ``Resolver`` does.
  public static func lookup(host: String, port: UInt16) -> Result<[SocketAddress], ResolveError> {
    guard ResolveError.isLookupName(host) else { return .failure(.invalidHost(host)) }
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var results: UnsafeMutablePointer<addrinfo>?
    let status = getaddrinfo(host, nil, &hints, &results)
    let code = errno
    defer { if let results { freeaddrinfo(results) } }
    guard status == 0 else {
      if status == EAI_NONAME { return .failure(.notFound(host)) }
      let reason = status == EAI_SYSTEM ? String(cString: strerror(code)) : String(cString: gai_strerror(status))
      return .failure(.failed(host: host, code: status, reason: reason))
    }
    var addresses: [SocketAddress] = []
    var cursor = results
    while let entry = cursor, addresses.count < mostLookupAddresses {
      cursor = entry.pointee.ai_next
      guard let raw = entry.pointee.ai_addr,
        let address = SocketAddress(UnsafePointer(raw), length: entry.pointee.ai_addrlen)?.withPort(port),
        !addresses.contains(address)
      else { continue }
      addresses.append(address)
    }
    return addresses.isEmpty ? .failure(.notFound(host)) : .success(addresses)
  }

  /// Starts a non-blocking TCP connection to `address` (IPv4 or IPv6) with TCP_NODELAY; `.wouldBlock` means it
  /// is in progress (wait for writable, then read ``socketError(_:)``). The descriptor is closed on error.
  public static func connect(to address: SocketAddress) throws(IOError) -> (fd: Int32, result: IOResult<Void>) {
    let fd = try streamSocket(family: address.family)
    setNoDelay(fd)
    let result = address.withSockaddr { Glibc.connect(fd, $0, $1) }
    if result == 0 { return (fd, .done(())) }
    let code = errno
    // EINTR: the connection continues asynchronously, exactly like EINPROGRESS.
    if code == EINPROGRESS || code == EINTR { return (fd, .wouldBlock) }
    Glibc.close(fd)
    throw IOError(errno: code, function: "connect")
  }

  /// A non-blocking, close-on-exec TCP listener with SO_REUSEADDR bound to `address` (port 0 picks a free
  /// port), and the port it got.
  public static func listen(on address: SocketAddress, backlog: Int32 = 4096) throws(IOError) -> (fd: Int32, port: Int)
  {
    let fd = try streamSocket(family: address.family)
    do throws(IOError) {
      var one: Int32 = 1
      _ = try mustComplete("setsockopt") {
        Int(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)))
      }
      _ = try mustComplete("bind") { Int(address.withSockaddr { bind(fd, $0, $1) }) }
      _ = try mustComplete("listen") { Int(Glibc.listen(fd, backlog)) }
      return (fd, try boundPort(fd))
    } catch {
      Glibc.close(fd)
      throw error
    }
  }

  /// A new non-blocking, close-on-exec TCP socket of `family` (`AF_INET` or `AF_INET6`).
  static func streamSocket(family: Int32) throws(IOError) -> Int32 {
    Int32(
      try mustComplete("socket") {
        Int(
          socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0))
      })
  }

  /// Sets TCP_NODELAY: delayed ACKs with Nagle add tens of milliseconds to small writes, so never batch.
  static func setNoDelay(_ fd: Int32) {
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
  }
}

// MARK: inotify (watching the routes folder)

extension Posix {
  /// What a folder watch reports: a name in it created, deleted, written and closed, or renamed in or out;
  /// and the folder itself deleted or moved (after which the watch is gone).
  static let folderWatchMask = UInt32(
    IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE_SELF | IN_MOVE_SELF)

  /// A non-blocking, close-on-exec inotify descriptor watching the entries of the folder at `path` (not
  /// recursively). Read it with ``readFolderEvents(_:)``; close it with ``close(_:)``.
  public static func watchFolder(_ path: String) throws(IOError) -> Int32 {
    let fd = Int32(
      try mustComplete("inotify_init1") { Int(inotify_init1(Int32(IN_NONBLOCK) | Int32(IN_CLOEXEC))) })
    do throws(IOError) {
      _ = try mustComplete("inotify_add_watch") { Int(inotify_add_watch(fd, path, folderWatchMask)) }
      return fd
    } catch {
      Glibc.close(fd)
      throw error
    }
  }

  /// The events of one read of an inotify descriptor of ``watchFolder(_:)``; `.wouldBlock` once drained.
  public static func readFolderEvents(_ fd: Int32) throws(IOError) -> IOResult<[FolderEvent]> {
    // Room for many events at once (each is 16 bytes and a name of at most NAME_MAX + 1).
    let capacity = 64 * 1024
    var buffer = [UInt8](repeating: 0, count: capacity)
    let count: Int
    switch try call("read", { buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }) {
    case .wouldBlock: return .wouldBlock
    case .done(let read): count = min(read, capacity)
    }
    return .done(FolderEventRecords.events(in: buffer[0..<count]))
  }

  /// Waits until one of `fds` is readable (or has hung up) or `timeoutMilliseconds` pass (-1: no limit), and
  /// returns the ready ones (none on timeout). Only for threads that may block (the routes watcher), never an
  /// event loop.
  public static func waitReadable(_ fds: [Int32], timeoutMilliseconds: Int32) throws(IOError) -> [Int32] {
    var pollers = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
    let count = pollers.count
    switch try call(
      "poll",
      {
        pollers.withUnsafeMutableBufferPointer { Int(poll($0.baseAddress, nfds_t(count), timeoutMilliseconds)) }
      })
    {
    case .wouldBlock: return []
    case .done: return pollers.filter { $0.revents != 0 }.map(\.fd)
    }
  }
}
