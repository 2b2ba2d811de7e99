import Dispatch
import FoundationEssentials
import Glibc
import Synchronization

/// Something on a reactor that waits for readiness of one descriptor. Called on the loop thread only.
protocol ReactorSource: AnyObject {
  /// The descriptor is ready for what `events` (epoll bits) says.
  func ready(_ events: UInt32)
  /// The reactor is stopping: close the descriptor and fail whatever waits on it.
  func reactorStopping()
}

/// Something on a reactor that queued bytes during the loop's current turn and writes them when the turn
/// ends (`Reactor.writeWhenIdle`). Called on the loop thread only.
protocol DeferredWriter: AnyObject {
  /// The loop has no job left to run: write what was queued.
  func writeQueued()
}

/// One event loop: an epoll instance, a timer heap whose nearest deadline is `epoll_wait`'s timeout, the
/// descriptors registered with it, and the task executor its requests' handlers prefer.
///
/// Each `louter serve` worker is one reactor on its own thread. It owns its client connections *and* its
/// upstream keep-alive pool, so a request whose handler runs here relays between two sockets of this
/// thread: no lock and no wake-up on the request path. Only `execute` and `enqueue` are for other threads;
/// everything else must be called on the loop thread (`isCurrent`).
final class Reactor: @unchecked Sendable, TaskExecutor {
  /// Work handed over from other threads (or queued by the loop thread for after the current event).
  private struct Inbox {
    var jobs: [UnownedJob] = []
    var work: [@Sendable () -> Void] = []
    /// The loop is (about to be) in epoll_wait: a producer must write the eventfd.
    var sleeping = false
    /// The loop has ended: jobs go to the global executor, work to a Dispatch queue.
    var stopped = false
    var isEmpty: Bool { jobs.isEmpty && work.isEmpty }
  }

  let name: String
  private let inbox = Mutex(Inbox())
  private let epoll: Int32
  private let wakeFD: Int32
  private let finished = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

  // Loop-thread state.
  private var sources: [UInt64: any ReactorSource] = [:]
  private var nextToken: UInt64 = 1
  private var timers = TimerHeap<() -> Void>()
  private var running = true
  /// How long this loop polls before it sleeps (see ``PollWindow``).
  private(set) var pollWindow: PollWindow
  /// The zero-timeout waits this loop has made while polling (for tests).
  private(set) var polls = 0
  /// One read buffer for every descriptor of this loop: reads never overlap on one thread.
  let readBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 64 * 1024, alignment: 16)
  /// This loop's pool of upstream connections (created on first use).
  lazy var upstreamPool = UpstreamPool(reactor: self)
  /// The tasks this loop runs its handlers in.
  lazy var handlerTasks = HandlerTasks(reactor: self)
  /// Writers with bytes queued in this turn, written once no job is left (see `writeWhenIdle`).
  private var pendingWriters: [any DeferredWriter] = []

  private static let wakeToken: UInt64 = 0

  /// Creates a reactor; its thread starts with `start()`.
  init(name: String, pollWindow: PollWindow = PollWindow(maximum: 0)) throws(IOError) {
    self.name = name
    self.pollWindow = pollWindow
    epoll = try Posix.epollCreate()
    do {
      wakeFD = try Posix.eventFD()
      try Posix.epollControl(epoll, Posix.epollAdd, wakeFD, events: Posix.epollIn, token: Self.wakeToken)
    } catch {
      Posix.close(epoll)
      throw error
    }
  }

  deinit { readBuffer.deallocate() }

  /// Starts the loop thread.
  func start() {
    Posix.ignoreSIGPIPE()
    // Handlers build and parse JSON on this thread: a small secondary-thread stack would be short.
    Posix.startThread(name: name, stackSize: 8 << 20) { [self] in run() }
  }

  /// The reactor whose loop thread is the calling thread.
  static var current: Reactor? {
    guard let pointer = pthread_getspecific(currentReactorKey) else { return nil }
    return Unmanaged<Reactor>.fromOpaque(pointer).takeUnretainedValue()
  }

  /// True on this reactor's loop thread.
  var isCurrent: Bool { pthread_getspecific(currentReactorKey) == Unmanaged.passUnretained(self).toOpaque() }

  /// A reactor with its own thread for callers outside any loop (tests, tools): started on first use.
  static let shared: Reactor = {
    // Only epoll_create or eventfd running out of descriptors at the first upstream call can fail here.
    guard let reactor = try? Reactor(name: "louter-client") else { fatalError("cannot create an epoll instance") }
    reactor.start()
    return reactor
  }()

  /// The reactor of the calling thread, else the shared one.
  static var currentOrShared: Reactor { current ?? shared }

  // MARK: from any thread

  /// Runs `work` on the loop thread, after what it is doing now.
  func execute(_ work: @escaping @Sendable () -> Void) {
    let outcome = inbox.withLock { inbox -> (wake: Bool, stopped: Bool) in
      if inbox.stopped { return (false, true) }
      inbox.work.append(work)
      return (wakeIfSleeping(&inbox), false)
    }
    if outcome.stopped {
      // The loop is gone and nothing else runs its state: any thread may finish the work.
      DispatchQueue.global().async(execute: work)
    } else if outcome.wake {
      Posix.signalEventFD(wakeFD)
    }
  }

  /// Runs `body` on the loop thread and returns its value: inline when called there, else queued.
  func perform<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    if isCurrent { return body() }
    return await withCheckedContinuation { continuation in execute { continuation.resume(returning: body()) } }
  }

  func enqueue(_ job: consuming ExecutorJob) {
    let unowned = UnownedJob(job)
    let outcome = inbox.withLock { inbox -> (wake: Bool, stopped: Bool) in
      if inbox.stopped { return (false, true) }
      inbox.jobs.append(unowned)
      return (wakeIfSleeping(&inbox), false)
    }
    if outcome.stopped {
      // A task that preferred this loop outlived it: let the global executor finish it.
      globalConcurrentExecutor.enqueue(ExecutorJob(unowned))
    } else if outcome.wake {
      Posix.signalEventFD(wakeFD)
    }
  }

  private func wakeIfSleeping(_ inbox: inout Inbox) -> Bool {
    guard inbox.sleeping else { return false }
    inbox.sleeping = false
    return true
  }

  /// Asks the loop to end (every source is told to stop, then the thread exits) without waiting for it.
  func requestStop() { execute { [self] in running = false } }

  /// Ends the loop: every source is told to stop, then the thread exits. Returns once it has.
  func stop() async {
    requestStop()
    await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
      let done = finished.withLock { state -> Bool in
        if state.done { return true }
        state.waiters.append(continuation)
        return false
      }
      if done { continuation.resume() }
    }
  }

  // MARK: loop thread only

  /// Adds `fd` to the loop with `events`; `source` is told when it is ready. Returns its token.
  func register(_ fd: Int32, events: UInt32, source: any ReactorSource) throws(IOError) -> UInt64 {
    let token = nextToken
    nextToken += 1
    try Posix.epollControl(epoll, Posix.epollAdd, fd, events: events, token: token)
    sources[token] = source
    return token
  }

  /// Changes what `fd` waits for.
  func modify(_ fd: Int32, token: UInt64, events: UInt32) {
    try? Posix.epollControl(epoll, Posix.epollModify, fd, events: events, token: token)
  }

  /// Removes `fd` from the loop (before it is closed).
  func deregister(_ fd: Int32, token: UInt64) {
    guard sources.removeValue(forKey: token) != nil else { return }
    try? Posix.epollControl(epoll, Posix.epollDelete, fd, events: 0, token: token)
  }

  /// Calls `writer.writeQueued()` once the jobs that can run now have run, before the loop waits again.
  ///
  /// Why: a handler that writes a stream's head and then its first event (or an event and then the
  /// stream's end) would otherwise cost one `write` each, and the client a wake-up per segment; written
  /// together they leave as one segment. Nothing waits longer than the jobs already runnable on this loop.
  func writeWhenIdle(_ writer: any DeferredWriter) { pendingWriters.append(writer) }

  /// Runs `action` on the loop thread at `deadline` (or soon after), unless cancelled first.
  func schedule(at deadline: MonotonicInstant, _ action: @escaping () -> Void) -> TimerHeap<() -> Void>.ID {
    timers.schedule(at: deadline, action)
  }

  /// Cancels a scheduled action.
  func cancel(_ timer: TimerHeap<() -> Void>.ID) { timers.cancel(timer) }

  /// Cancels a scheduled action from any thread: at once on the loop thread, else queued.
  func cancelFromAnyThread(_ timer: TimerHeap<() -> Void>.ID) {
    if isCurrent {
      timers.cancel(timer)
    } else {
      execute { [self] in timers.cancel(timer) }
    }
  }

  // MARK: the loop

  /// The events of one `epoll_wait`, read by the loop thread right after it returns.
  private struct EventBuffer {
    static let capacity: Int32 = 256
    let events = UnsafeMutablePointer<UInt32>.allocate(capacity: Int(capacity))
    let tokens = UnsafeMutablePointer<UInt64>.allocate(capacity: Int(capacity))

    func deallocate() {
      events.deallocate()
      tokens.deallocate()
    }
  }

  /// One `epoll_wait` into `buffer`; the number of events (0 on a timeout or an error).
  private func waitForEvents(into buffer: EventBuffer, timeoutMilliseconds timeout: Int32) -> Int {
    (try? Posix.epollWait(
      epoll, events: buffer.events, tokens: buffer.tokens, capacity: EventBuffer.capacity,
      timeoutMilliseconds: timeout)) ?? 0
  }

  /// Waits for events with nothing else to do: polls first for as long as ``pollWindow`` says (yielding
  /// the CPU to any other thread ready to run on it), then sleeps in `epoll_wait` until an event or the
  /// nearest timer (`timeout`); tells the window how long the loop was idle. Returns the number of events.
  private func idle(into buffer: EventBuffer, timeoutMilliseconds timeout: Int32) -> Int {
    guard pollWindow.maximum > 0 else { return waitForEvents(into: buffer, timeoutMilliseconds: timeout) }
    let idleStart = MonotonicInstant.now
    var count = 0
    var timeout = timeout
    // A timeout of 0 means a timer is due: nothing to wait for.
    if pollWindow.current > 0, timeout != 0 {
      let until = idleStart.advanced(byNanoseconds: pollWindow.current)
      repeat {
        count = waitForEvents(into: buffer, timeoutMilliseconds: 0)
        polls &+= 1
        if count > 0 { break }
        Posix.yieldProcessor()
      } while MonotonicInstant.now < until
      // The nearest timer came closer while polling.
      if count == 0 { timeout = timers.waitMilliseconds(from: .now) }
    }
    if count == 0 { count = waitForEvents(into: buffer, timeoutMilliseconds: timeout) }
    pollWindow.idled(nanoseconds: MonotonicInstant.now.nanoseconds &- idleStart.nanoseconds)
    return count
  }

  private func run() {
    pthread_setspecific(currentReactorKey, Unmanaged.passUnretained(self).toOpaque())
    let buffer = EventBuffer()
    defer { buffer.deallocate() }
    while running {
      drainInbox()
      guard running else { break }
      writePending()
      let timeout = timers.waitMilliseconds(from: .now)
      let mayBlock = inbox.withLock { inbox -> Bool in
        // A write that resumed a waiting handler, or queued more, is served before sleeping.
        guard inbox.isEmpty, pendingWriters.isEmpty else { return false }
        inbox.sleeping = true
        return true
      }
      let count: Int
      if mayBlock {
        count = idle(into: buffer, timeoutMilliseconds: timeout)
        inbox.withLock { $0.sleeping = false }
      } else {
        count = waitForEvents(into: buffer, timeoutMilliseconds: 0)
      }
      for index in 0..<count {
        let token = buffer.tokens[index]
        if token == Self.wakeToken {
          Posix.drainEventFD(wakeFD)
        } else if let source = sources[token] {
          source.ready(buffer.events[index])
        }
      }
      if timers.count > 0 {
        for action in timers.popExpired(at: .now) { action() }
      }
    }
    for source in Array(sources.values) { source.reactorStopping() }
    sources.removeAll()
    handlerTasks.stop()
    pendingWriters.removeAll()
    // Work queued meanwhile (a cancelled handler's last writes) still runs here, then later arrivals go
    // elsewhere (see `enqueue`).
    drainInbox()
    let (lateJobs, lateWork) = inbox.withLock { inbox -> ([UnownedJob], [@Sendable () -> Void]) in
      inbox.stopped = true
      defer {
        inbox.jobs = []
        inbox.work = []
      }
      return (inbox.jobs, inbox.work)
    }
    for item in lateWork { item() }
    for job in lateJobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
    Posix.close(epoll)
    // The eventfd stays open: a late producer must never write into a descriptor number the kernel has
    // handed to a new socket.
    let waiters = finished.withLock { state -> [CheckedContinuation<Void, Never>] in
      state.done = true
      let waiters = state.waiters
      state.waiters = []
      return waiters
    }
    for waiter in waiters { waiter.resume() }
  }

  /// Writes what writers queued during this turn (each once; one queued again meanwhile waits for the next).
  private func writePending() {
    guard !pendingWriters.isEmpty else { return }
    let writers = pendingWriters
    pendingWriters = []
    for writer in writers { writer.writeQueued() }
  }

  /// Runs queued work and jobs until none is left; each may queue more.
  private func drainInbox() {
    // The inbox's arrays are swapped with these, emptied with their storage kept: queueing into an empty inbox
    // then reuses a drained array's storage instead of allocating one (two per translated request).
    var jobs: [UnownedJob] = []
    var work: [@Sendable () -> Void] = []
    while true {
      inbox.withLock { inbox in
        swap(&inbox.jobs, &jobs)
        swap(&inbox.work, &work)
      }
      if jobs.isEmpty, work.isEmpty { return }
      for item in work { item() }
      for job in jobs { job.runSynchronously(on: asUnownedTaskExecutor()) }
      jobs.removeAll(keepingCapacity: true)
      work.removeAll(keepingCapacity: true)
    }
  }
}

/// The thread-specific slot that names the reactor running on a thread.
private let currentReactorKey: pthread_key_t = {
  var key = pthread_key_t()
  pthread_key_create(&key, nil)
  return key
}()
