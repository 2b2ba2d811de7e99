import Dispatch
import FoundationEssentials
import Glibc
public import RouteSpec
import Synchronization

/// The request log of `louter serve`: `--verbose` lines and JSON lines, each written to its descriptor by a
/// writer thread of its own, so that logging never blocks the thread that finished the request (the event
/// loop). A reader that is too slow, or that never reads, costs dropped lines, never a stalled gateway.
public final class RequestLog: Sendable {
  private let verbose: LogLineWriter?
  private let json: LogLineWriter?
  // The descriptor this log opened (a `request_log` file), closed by `close(deadline:)`; stdout and
  // stderr belong to the process.
  private let ownedFD: Int32?

  /// A log writing `--verbose` lines to `verboseFD` and JSON lines to `jsonFD` (nil: not written); each
  /// writer reports its dropped lines on `noticeFD`. The descriptors stay open until ``close(deadline:)``.
  public convenience init(
    verboseFD: Int32?, jsonFD: Int32?, noticeFD: Int32 = STDERR_FILENO,
    capacityBytes: Int = LogLineWriter.defaultCapacityBytes
  ) {
    self.init(verboseFD: verboseFD, jsonFD: jsonFD, ownedFD: nil, noticeFD: noticeFD, capacityBytes: capacityBytes)
  }

  private init(verboseFD: Int32?, jsonFD: Int32?, ownedFD: Int32?, noticeFD: Int32, capacityBytes: Int) {
    verbose = verboseFD.map {
      LogLineWriter(fd: $0, noticeFD: noticeFD, capacityBytes: capacityBytes, name: "louter-verbose-log")
    }
    json = jsonFD.map {
      LogLineWriter(fd: $0, noticeFD: noticeFD, capacityBytes: capacityBytes, name: "louter-request-log")
    }
    self.ownedFD = ownedFD
  }

  /// The log `louter serve` writes: `--verbose` lines on stderr, JSON lines on stdout or appended to a file.
  /// Throws when the file cannot be opened.
  public static func open(verbose: Bool, target: RequestLogTarget) throws(IOError) -> RequestLog {
    let verboseFD = verbose ? STDERR_FILENO : nil
    switch target {
    case .off:
      return RequestLog(verboseFD: verboseFD, jsonFD: nil)
    case .stdout:
      return RequestLog(verboseFD: verboseFD, jsonFD: STDOUT_FILENO)
    case .file(let path):
      let fd = try Posix.openForAppending(path)
      return RequestLog(
        verboseFD: verboseFD, jsonFD: fd, ownedFD: fd, noticeFD: STDERR_FILENO,
        capacityBytes: LogLineWriter.defaultCapacityBytes)
    }
  }

  /// Queues the record's lines and returns at once: serialising happens on the calling thread, writing on
  /// the writers' threads.
  public func log(_ record: RequestRecord) {
    verbose?.append(record.line)
    json?.append(record.json.serialized())
  }

  /// Lines dropped so far because a writer's queue was full (or its descriptor failed).
  public var droppedLines: Int {
    (verbose?.droppedLines ?? 0) + (json?.droppedLines ?? 0)
  }

  /// Waits until every line queued so far is written (and any drop notice with it), or until `deadline`;
  /// true when everything was written.
  public func flush(deadline: DispatchTime) -> Bool {
    let verboseDone = verbose?.flush(deadline: deadline) ?? true
    let jsonDone = json?.flush(deadline: deadline) ?? true
    return verboseDone && jsonDone
  }

  /// Writes what is queued, then stops the writers (later lines are dropped), waiting no longer than
  /// `deadline`: a reader that is gone or stalled never holds up shutdown. True when everything was written.
  public func close(deadline: DispatchTime) -> Bool {
    let verboseDone = verbose?.close(deadline: deadline) ?? true
    let jsonDone = json?.close(deadline: deadline) ?? true
    // A writer still blocked in write(2) may yet use the file: leave it open then.
    if jsonDone, let ownedFD { Posix.close(ownedFD) }
    return verboseDone && jsonDone
  }
}

/// Lines to one descriptor, written in order by one dedicated thread from a bounded in-memory queue.
///
/// ``append(_:)`` costs the caller one lock and one copy of the line and never blocks on I/O. When the
/// queue is full the line is dropped and counted; once the writer has caught up (its queue empty) it
/// reports the count as one line on the notice descriptor.
///
/// Threads: any thread calls `append`, `flush`, `close` and reads `droppedLines`; they touch only `state`,
/// under its lock. The writer thread alone owns the descriptors (all writes) and the batch it is
/// writing; it takes work from `state` under the lock and never holds the lock while writing.
public final class LogLineWriter: Sendable {
  /// 4 MiB of queued bytes (lines waiting plus the batch being written). A JSON log line is 300–500 bytes, so
  /// that is roughly 10,000 lines: seconds of a busy gateway's log while a reader pauses, and a bound on
  /// memory (two buffers of at most this size) that does not depend on how long each line is. Counting
  /// bytes rather than lines is what makes the bound hold for lines of any length.
  public static let defaultCapacityBytes = 4 << 20

  private struct State {
    /// Lines appended and not yet taken by the writer, newline-terminated, in order.
    var pending: [UInt8] = []
    var pendingLines = 0
    /// The batch the writer is writing (counted against the capacity until it is written).
    var inFlightBytes = 0
    var inFlightLines = 0
    var droppedLines = 0
    /// Drops the writer has not reported yet.
    var unreportedDrops = 0
    /// The writer waits on `wake`; whoever clears this signals it, exactly once per wait.
    var writerSleeping = false
    /// The descriptor failed (the reader went away): every later line is dropped.
    var failed = false
    /// `close` was called: no more lines; the writer exits once it has written what it holds.
    var closing = false
    var stopped = false
    /// `flush`/`close` callers to signal when the writer is next idle.
    var idleWaiters: [DispatchSemaphore] = []

    /// Everything appended so far is written and reported.
    var isIdle: Bool { stopped || (writerSleeping && pending.isEmpty && unreportedDrops == 0) }
  }

  private enum Step {
    case write
    case notice(String)
    case sleep
    case exit
  }

  private let fd: Int32
  private let noticeFD: Int32
  private let capacityBytes: Int
  private let state = Mutex(State())
  private let wake = DispatchSemaphore(value: 0)

  /// Starts the writer thread for `fd`; drop notices go to `noticeFD`.
  init(fd: Int32, noticeFD: Int32, capacityBytes: Int, name: String) {
    self.fd = fd
    self.noticeFD = noticeFD
    self.capacityBytes = max(0, capacityBytes)
    // A log reader that exits must be a write error (EPIPE), not the end of the process.
    Posix.ignoreSIGPIPE()
    Posix.startThread(name: name) { [self] in run() }
  }

  /// Queues `line` (a newline is added) or, when the queue is full, drops and counts it.
  func append(_ line: String) {
    var bytes = Array(line.utf8)
    bytes.append(UInt8(ascii: "\n"))
    let wakeWriter = state.withLock { state -> Bool in
      if state.closing || state.failed {
        state.droppedLines += 1
        return false
      }
      // Both terms are at most `capacityBytes`, and a line is at most the memory it came from: no overflow.
      if state.pending.count + state.inFlightBytes + bytes.count > capacityBytes {
        state.droppedLines += 1
        state.unreportedDrops += 1
      } else {
        state.pending.append(contentsOf: bytes)
        state.pendingLines += 1
      }
      guard state.writerSleeping else { return false }
      state.writerSleeping = false
      return true
    }
    if wakeWriter { wake.signal() }
  }

  /// Lines dropped so far.
  var droppedLines: Int { state.withLock { $0.droppedLines } }

  /// Waits until the writer is idle (see ``RequestLog/flush(deadline:)``).
  func flush(deadline: DispatchTime) -> Bool {
    waitUntilIdle(deadline: deadline, closing: false)
  }

  /// Stops the writer once it is idle (see ``RequestLog/close(deadline:)``).
  func close(deadline: DispatchTime) -> Bool {
    waitUntilIdle(deadline: deadline, closing: true)
  }

  private func waitUntilIdle(deadline: DispatchTime, closing: Bool) -> Bool {
    let waiter = DispatchSemaphore(value: 0)
    let (idle, wakeWriter) = state.withLock { state -> (Bool, Bool) in
      if closing { state.closing = true }
      // Closing needs the writer to see `closing` and exit; a flush of an idle writer is done already.
      if state.stopped || (!closing && state.isIdle) { return (true, false) }
      state.idleWaiters.append(waiter)
      guard state.writerSleeping else { return (false, false) }
      state.writerSleeping = false
      return (false, true)
    }
    if idle { return true }
    if wakeWriter { wake.signal() }
    // A waiter that timed out stays in the list; signalling it later is harmless.
    return waiter.wait(timeout: deadline) == .success
  }

  /// The writer thread: takes the whole pending buffer at a time and writes it with blocking writes.
  private func run() {
    var batch: [UInt8] = []
    while true {
      var waiters: [DispatchSemaphore] = []
      let step = state.withLock { state -> Step in
        if !state.pending.isEmpty {
          // O(1): the buffers trade places, and `batch` hands back its (emptied) storage for reuse.
          swap(&state.pending, &batch)
          state.inFlightBytes = batch.count
          state.inFlightLines = state.pendingLines
          state.pendingLines = 0
          return .write
        }
        if state.unreportedDrops > 0 {
          let count = state.unreportedDrops
          state.unreportedDrops = 0
          return .notice(Self.dropNotice(count))
        }
        // Idle: everything appended so far is written and reported.
        waiters = state.idleWaiters
        state.idleWaiters = []
        if state.closing {
          state.stopped = true
          return .exit
        }
        state.writerSleeping = true
        return .sleep
      }
      for waiter in waiters { waiter.signal() }
      switch step {
      case .write:
        let failure: IOError?
        do throws(IOError) {
          try write(batch, to: fd)
          failure = nil
        } catch {
          failure = error
        }
        batch.removeAll(keepingCapacity: true)
        let notice = state.withLock { state -> String? in
          state.inFlightBytes = 0
          defer { state.inFlightLines = 0 }
          guard let failure, !state.failed else { return nil }
          // The reader is gone: later writes would fail the same way, and a notice per batch would flood
          // stderr. Drop everything from now on and say so once.
          state.failed = true
          let lost = state.inFlightLines + state.pendingLines + state.unreportedDrops
          state.droppedLines += state.inFlightLines + state.pendingLines
          state.unreportedDrops = 0
          state.pending = []
          state.pendingLines = 0
          return "louter: request log: cannot write (\(failure)); \(lost) lines dropped, later lines will be too"
        }
        if let notice { writeNotice(notice) }
      case .notice(let line):
        writeNotice(line)
      case .sleep:
        wake.wait()
      case .exit:
        return
      }
    }
  }

  /// The line reporting `count` dropped lines.
  static func dropNotice(_ count: Int) -> String {
    "louter: request log: \(count) lines dropped, the log's reader is too slow"
  }

  private func writeNotice(_ line: String) {
    // Best effort: nothing is left to tell when the notice descriptor fails as well.
    try? write(Array((line + "\n").utf8), to: noticeFD)
  }

  private func write(_ bytes: [UInt8], to fd: Int32) throws(IOError) {
    var failure: IOError?
    bytes.withUnsafeBytes { buffer in
      do throws(IOError) {
        try Posix.writeAll(fd: fd, bytes: buffer)
      } catch {
        failure = error
      }
    }
    if let failure { throw failure }
  }
}
