import Synchronization
import Testing

@testable import RouterRuntime

/// The tasks a reactor keeps for its handlers: a request after another runs on the same task, a
/// cancelled one ends, a stale ticket reaches nothing, the parked are bounded, and a stop ends them.
@Suite(.timeLimit(.minutes(1))) struct HandlerTasksTests {
  /// A reactor of its own, running, whose handler tasks keep at most `maxParked`.
  static func reactor(maxParked: Int = 128) async throws -> Reactor {
    let reactor = try Reactor(name: "handler-tasks-test")
    reactor.start()
    await reactor.perform { reactor.handlerTasks = HandlerTasks(reactor: reactor, maxParked: maxParked) }
    return reactor
  }

  /// Runs `job` on the reactor's handler tasks (from the loop thread, as connections do).
  static func run(on reactor: Reactor, _ job: @escaping HandlerTasks.Job) async -> HandlerTasks.Ticket {
    await reactor.perform { reactor.handlerTasks.run(job) }
  }

  static func counts(_ reactor: Reactor) async -> (started: Int, parked: Int) {
    await reactor.perform { (reactor.handlerTasks.tasksStarted, reactor.handlerTasks.parkedCount) }
  }

  @Test func jobsOneAfterAnotherRunOnOneTask() async throws {
    let reactor = try await Self.reactor()
    for index in 0..<3 {
      let probe = JobProbe()
      _ = await Self.run(on: reactor, probe.job())
      #expect(await probe.sawCancel() == false)
      // The job ended on the loop thread and parked its task in the same turn, before this `perform`
      // could run there.
      #expect(await Self.counts(reactor) == (1, 1), "after job \(index)")
    }
    await reactor.stop()
  }

  @Test func aJobRunsOnTheLoopThreadAcrossItsAwaits() async throws {
    let reactor = try await Self.reactor()
    let resumed = UpstreamEvent()
    let onLoop = Mutex<[Bool]>([])
    let probe = JobProbe()
    _ = await Self.run(
      on: reactor,
      probe.job {
        onLoop.withLock { $0.append(reactor.isCurrent) }
        // Resumed from the test's own task, on another thread: the job must come back to its loop.
        await resumed.wait()
        onLoop.withLock { $0.append(reactor.isCurrent) }
        await Self.nonisolatedStep()
        onLoop.withLock { $0.append(reactor.isCurrent) }
      })
    await probe.started.wait()
    resumed.fire()
    _ = await probe.sawCancel()
    #expect(onLoop.withLock { $0 } == [true, true, true])
    await reactor.stop()
  }

  /// An async function of no actor, called from a job.
  static func nonisolatedStep() async { await Task.yield() }

  @Test func cancellingARunningJobCancelsItAndItsTaskEnds() async throws {
    let reactor = try await Self.reactor()
    let probe = JobProbe()
    let ticket = await Self.run(on: reactor, probe.job { await Self.untilCancelled() })
    await probe.started.wait()
    await reactor.perform { reactor.handlerTasks.cancel(ticket) }
    #expect(await probe.sawCancel() == true)
    // The cancelled task does not come back for more: the next job starts a task of its own.
    let next = JobProbe()
    _ = await Self.run(on: reactor, next.job())
    #expect(await next.sawCancel() == false)
    #expect(await Self.counts(reactor) == (2, 1))
    await reactor.stop()
  }

  @Test func aTicketForAFinishedJobCancelsNothingThatRunsLater() async throws {
    let reactor = try await Self.reactor()
    let first = JobProbe()
    let stale = await Self.run(on: reactor, first.job())
    #expect(await first.sawCancel() == false)
    let release = UpstreamEvent()
    let second = JobProbe()
    let current = await Self.run(on: reactor, second.job { await release.wait() })
    await second.started.wait()
    // The same task runs the second job now: the first job's ticket must not reach it.
    #expect(await Self.counts(reactor).started == 1)
    await reactor.perform { reactor.handlerTasks.cancel(stale) }
    release.fire()
    #expect(await second.sawCancel() == false)
    // A ticket for a parked task cancels nothing either: the task takes the next job uncancelled.
    await reactor.perform { reactor.handlerTasks.cancel(current) }
    let third = JobProbe()
    _ = await Self.run(on: reactor, third.job())
    #expect(await third.sawCancel() == false)
    #expect(await Self.counts(reactor) == (1, 1))
    await reactor.stop()
  }

  @Test func parkedTasksAreBoundedAndTheSurplusEnds() async throws {
    let reactor = try await Self.reactor(maxParked: 1)
    let release = UpstreamEvent()
    let probes = [JobProbe(), JobProbe()]
    for probe in probes { _ = await Self.run(on: reactor, probe.job { await release.wait() }) }
    // Both jobs run at once, so on two tasks.
    for probe in probes { await probe.started.wait() }
    release.fire()
    for probe in probes { #expect(await probe.sawCancel() == false) }
    // Whichever finished second found one parked and ended. `perform` runs after both have (each noted
    // its end from the loop thread, then parked or ended in that turn).
    #expect(await Self.counts(reactor) == (2, 1))
    let tasks = await reactor.perform { reactor.handlerTasks }
    #expect(tasks.tasksRunning.load(ordering: .relaxed) == 1)
    await reactor.stop()
  }

  @Test func shrinkingEndsTheOldestParkedTasks() async throws {
    let reactor = try await Self.reactor()
    let release = UpstreamEvent()
    let probes = [JobProbe(), JobProbe(), JobProbe()]
    for probe in probes { _ = await Self.run(on: reactor, probe.job { await release.wait() }) }
    for probe in probes { await probe.started.wait() }
    release.fire()
    for probe in probes { _ = await probe.sawCancel() }
    #expect(await Self.counts(reactor) == (3, 3))
    let tasks = await reactor.perform { reactor.handlerTasks }
    await reactor.perform { tasks.shrink(keeping: 1) }
    #expect(await Self.counts(reactor).parked == 1)
    // The two resumed tasks end in the loop's next turn (the suite's time limit bounds this wait).
    while tasks.tasksRunning.load(ordering: .relaxed) > 1 { await Task.yield() }
    // The one kept still serves; a second job at the same time needs a new task.
    let second = UpstreamEvent()
    let both = [JobProbe(), JobProbe()]
    for probe in both { _ = await Self.run(on: reactor, probe.job { await second.wait() }) }
    for probe in both { await probe.started.wait() }
    second.fire()
    for probe in both { _ = await probe.sawCancel() }
    #expect(await Self.counts(reactor) == (4, 2))
    await reactor.stop()
  }

  @Test func aParkedTaskKeepsNothingOfTheJobsItRan() async throws {
    let reactor = try await Self.reactor()
    // The first job (the one a task is made for) and a later one: a request, its responder and its
    // connection must not live on in a parked task until its next job.
    for _ in 0..<2 {
      let kept = WeakReference()
      let probe = JobProbe()
      do {
        let request = Canary()
        kept.value = request
        _ = await Self.run(on: reactor, probe.job { _ = request })
      }
      _ = await probe.sawCancel()
      #expect(await Self.counts(reactor).parked == 1)
      #expect(kept.value == nil)
    }
    await reactor.stop()
  }

  @Test func stoppingTheReactorEndsItsParkedTasks() async throws {
    let reactor = try await Self.reactor()
    for _ in 0..<2 {
      let probe = JobProbe()
      _ = await Self.run(on: reactor, probe.job())
      _ = await probe.sawCancel()
    }
    let tasks = await reactor.perform { reactor.handlerTasks }
    #expect(tasks.tasksRunning.load(ordering: .relaxed) == 1)
    // The loop resumes its parked tasks as it stops and runs them to their end before it returns.
    await reactor.stop()
    #expect(tasks.tasksRunning.load(ordering: .relaxed) == 0)
    #expect(tasks.parkedCount == 0)
  }

  /// Suspends until the current task is cancelled.
  static func untilCancelled() async {
    let wake = UpstreamEvent()
    await withTaskCancellationHandler {
      await wake.wait()
    } onCancel: {
      wake.fire()
    }
  }
}

/// One job's view of itself: when it started, and whether its task was cancelled when it ended.
final class JobProbe: Sendable {
  let started = UpstreamEvent()
  private let done = UpstreamEvent()
  private let cancelled = Mutex<Bool?>(nil)

  /// A job that fires `started`, runs `body`, then notes whether its task is cancelled.
  func job(_ body: @escaping @Sendable () async -> Void = {}) -> HandlerTasks.Job {
    { [self] in
      started.fire()
      await body()
      cancelled.withLock { $0 = Task.isCancelled }
      done.fire()
    }
  }

  /// Waits for the job's end: was its task cancelled then?
  func sawCancel() async -> Bool? {
    await done.wait()
    return cancelled.withLock { $0 }
  }
}

/// Something a job holds, to see whether it outlives the job.
final class Canary: Sendable {}

/// A weak reference a test reads after the fact.
final class WeakReference: @unchecked Sendable {
  weak var value: Canary?
}
