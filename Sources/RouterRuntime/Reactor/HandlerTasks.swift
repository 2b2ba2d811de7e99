import Synchronization

/// The tasks one reactor runs its handlers in, kept between requests.
///
/// A task's async frames come from slabs that the task `malloc`s as its call stack deepens and frees only
/// when it ends. A task per request therefore paid for a task and for every slab again on each request
/// (18 `malloc`s per translated request, about a twentieth of its instructions). A kept task has its slabs
/// from the requests before. Parked tasks are bounded (`maxParked`); a busy loop makes more and lets the
/// surplus end.
///
/// Loop-thread state: `run`, `cancel`, `shrink` and `stop` are called on the reactor's thread, and the
/// tasks prefer that reactor, so their code between jobs runs there too.
final class HandlerTasks: @unchecked Sendable {
  /// A handler: what one request runs.
  typealias Job = @Sendable () async -> Void

  /// One kept task and the job it runs now.
  final class Worker: @unchecked Sendable {
    fileprivate var task: Task<Void, Never>?
    /// Counts the jobs this task has taken: a ticket for an earlier job no longer reaches it.
    fileprivate var jobNumber: UInt64 = 0
    /// Set while the task is parked, waiting for a job: resumed with true when one was handed over.
    fileprivate var parked: UnsafeContinuation<Bool, Never>?
    /// The job handed over and not yet taken. The task takes it from here rather than holding it in a
    /// variable or its closure, which would keep the job (its request, responder and connection) alive
    /// while the task is parked.
    fileprivate var handedOver: Job?
  }

  /// Names one job on its task: what `cancel` takes.
  struct Ticket {
    fileprivate let worker: Worker
    fileprivate let jobNumber: UInt64
  }

  /// Parked tasks kept at most; a task finishing a job when this many wait ends instead.
  let maxParked: Int
  // Unowned: the reactor owns this, and a task keeps its preferred reactor alive by itself.
  private unowned let reactor: Reactor
  private var idle: [Worker] = []
  private var stopped = false

  init(reactor: Reactor, maxParked: Int = 128) {
    self.reactor = reactor
    self.maxParked = maxParked
  }

  /// Tasks parked now (read by tests).
  var parkedCount: Int { idle.count }
  /// Tasks ever started (read by tests: requests one after another take one).
  private(set) var tasksStarted = 0
  /// Tasks not yet ended, parked or busy (read by tests; atomic, as a task may end off the loop).
  let tasksRunning = Atomic<Int>(0)

  /// Runs `job` on a parked task, or on a new one when none is parked.
  func run(_ job: @escaping Job) -> Ticket {
    if let worker = idle.popLast(), let parked = worker.parked {
      worker.parked = nil
      worker.jobNumber &+= 1
      worker.handedOver = job
      parked.resume(returning: true)
      return Ticket(worker: worker, jobNumber: worker.jobNumber)
    }
    let worker = Worker()
    worker.jobNumber = 1
    worker.handedOver = job
    tasksStarted += 1
    tasksRunning.add(1, ordering: .relaxed)
    worker.task = Task(executorPreference: reactor) { [self] in
      repeat {
        await Self.runHandedOver(worker)
      } while await park(worker)
      worker.task = nil
      tasksRunning.subtract(1, ordering: .relaxed)
    }
    return Ticket(worker: worker, jobNumber: 1)
  }

  /// Takes the worker's job and runs it; the job is released when this returns, before the task parks.
  private static func runHandedOver(_ worker: Worker) async {
    guard let job = worker.handedOver else { return }
    worker.handedOver = nil
    await job()
  }

  /// Cancels the ticket's job if its task still runs it; a finished job's task is left alone, as it may
  /// run another request's job by now. A cancelled task ends after its job.
  func cancel(_ ticket: Ticket) {
    let worker = ticket.worker
    guard worker.jobNumber == ticket.jobNumber, worker.parked == nil else { return }
    worker.task?.cancel()
  }

  /// Ends parked tasks beyond the `keeping` most recently parked, giving back the frames they kept (after a
  /// burst: see `MemoryTrimPolicy`). They end in the loop's next turn.
  func shrink(keeping: Int) {
    let surplus = idle.count - max(0, keeping)
    guard surplus > 0 else { return }
    // The oldest parked first: the most recent are the likeliest to be taken next.
    let ending = idle.prefix(surplus)
    idle.removeFirst(surplus)
    for worker in ending {
      let continuation = worker.parked
      worker.parked = nil
      continuation?.resume(returning: false)
    }
  }

  /// The reactor stops: parked tasks end, and busy ones end after their jobs.
  func stop() {
    stopped = true
    shrink(keeping: 0)
  }

  /// Waits until a job is handed over (true), or returns false when the task should end: it was cancelled,
  /// enough are parked, or the reactor is stopping. After a stop this may run off the loop (the task
  /// outlived it): it then only reads `stopped`, which nothing writes again.
  private func park(_ worker: Worker) async -> Bool {
    if stopped || Task.isCancelled || idle.count >= maxParked { return false }
    return await withUnsafeContinuation { continuation in
      worker.parked = continuation
      idle.append(worker)
    }
  }
}
