import Testing

@testable import RouterRuntime

/// Our own client's connection logic, driven by events alone: no sockets, no clock.
@Suite struct UpstreamConnectionMachineTests {
  let start = MonotonicInstant.now

  func deadlines(firstByte: Duration = .seconds(10), idle: Duration = .seconds(5)) -> UpstreamDeadlines {
    UpstreamDeadlines(
      UpstreamRequest(
        method: "POST", url: "http://127.0.0.1:1/", headers: [], body: [], connectTimeout: .seconds(2),
        firstByteTimeout: firstByte, streamIdleTimeout: idle, totalTimeout: .seconds(60)),
      start: start)
  }

  func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

  @Test func aFreshConnectionConnectsSendsReadsAndGoesBackToThePool() {
    var machine = UpstreamConnectionMachine(connecting: true, now: start)
    let attached = machine.attach(deadlines(), reused: false, now: start)
    // Connecting: the connect deadline is the nearest, and only writability (the connect's end) matters.
    #expect(attached == [.deadline(start.advanced(by: .seconds(2))), .interest(read: false, write: true)])
    // Connected, the shell writes at once: writability matters only after the socket refused bytes.
    #expect(machine.connected(error: nil, now: start) == [.interest(read: true, write: false)])
    #expect(machine.requestSent() == [.interest(read: true, write: false)])
    let answer = machine.received(bytes("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), now: start)
    #expect(
      answer == [
        .deliverHead(status: 200, headers: UpstreamHeaders([("Content-Length", "2")])),
        .deadline(start.advanced(by: .seconds(5))), .deliverBody(bytes("ok")), .finishBody, .release,
        .interest(read: true, write: false),
      ])
    #expect(!machine.isBusy && !machine.isClosed)
    // Idle in the pool, it must stay silent: bytes now make it unusable.
    #expect(machine.received(bytes("x"), now: start) == [.close])
  }

  @Test func writabilityIsAwaitedOnlyWhileTheSocketRefusesTheRequest() {
    var machine = UpstreamConnectionMachine(connecting: false, now: start)
    let attached = machine.attach(deadlines(), reused: true, now: start)
    // A kept-alive connection already waits for reads: attaching changes nothing in epoll.
    #expect(attached.last == .interest(read: true, write: false))
    #expect(machine.requestWriteBlocked() == [.interest(read: true, write: true)])
    #expect(machine.requestSent() == [.interest(read: true, write: false)])
    // The next exchange on the connection starts without write interest again.
    _ = machine.received(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), now: start)
    #expect(machine.attach(deadlines(), reused: true, now: start).last == .interest(read: true, write: false))
  }

  @Test func connectionCloseMeansNoReuse() {
    var machine = UpstreamConnectionMachine(connecting: false, now: start)
    _ = machine.attach(deadlines(), reused: false, now: start)
    let answer = machine.received(bytes("HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n"), now: start)
    #expect(answer.contains(.finishBody) && answer.contains(.close) && !answer.contains(.release))
  }

  @Test func aReusedConnectionThatDiesBeforeAnyByteIsRetriedOnceAFreshOneFails() {
    var reused = UpstreamConnectionMachine(connecting: false, now: start)
    _ = reused.attach(deadlines(), reused: true, now: start)
    #expect(reused.endOfInput(now: start) == [.retryOnFreshConnection, .close])

    var fresh = UpstreamConnectionMachine(connecting: false, now: start)
    _ = fresh.attach(deadlines(), reused: false, now: start)
    #expect(
      fresh.endOfInput(now: start) == [
        .fail(.connectionReset("the backend closed the connection without answering")), .close,
      ])

    // After the first answer byte, nothing is retried: the backend may have acted on the request.
    var started = UpstreamConnectionMachine(connecting: false, now: start)
    _ = started.attach(deadlines(), reused: true, now: start)
    _ = started.received(bytes("HTTP/1.1 200 OK\r\nContent-Le"), now: start)
    #expect(started.socketFailed("reset") == [.fail(.connectionReset("reset")), .close])
  }

  @Test func theFirstByteAndIdleDeadlinesFailTheExchangeButAPausedReaderIsNotIdle() {
    var silent = UpstreamConnectionMachine(connecting: false, now: start)
    _ = silent.attach(deadlines(firstByte: .seconds(10)), reused: false, now: start)
    #expect(
      silent.deadlineReached(now: start.advanced(by: .seconds(9))) == [.deadline(start.advanced(by: .seconds(10)))])
    #expect(
      silent.deadlineReached(now: start.advanced(by: .seconds(10))) == [
        .fail(.timedOut(phase: .firstByte(.seconds(10)))), .close,
      ])

    var stalled = UpstreamConnectionMachine(connecting: false, now: start)
    _ = stalled.attach(deadlines(idle: .seconds(5)), reused: false, now: start)
    _ = stalled.received(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"), now: start)
    let late = start.advanced(by: .seconds(5))
    #expect(stalled.deadlineReached(now: late) == [.fail(.timedOut(phase: .idle(.seconds(5)))), .close])

    var paused = UpstreamConnectionMachine(connecting: false, now: start)
    _ = paused.attach(deadlines(idle: .seconds(5)), reused: false, now: start)
    _ = paused.received(bytes("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab"), now: start)
    _ = paused.setPaused(true, now: start)
    #expect(!paused.deadlineReached(now: late).contains { if case .fail = $0 { true } else { false } })
    // Resumed, the idle deadline counts again from then.
    let resumed = paused.setPaused(false, now: late)
    #expect(resumed.contains(.deadline(late.advanced(by: .seconds(5)))))
  }

  @Test func garbageFailsTheExchangeAndTheConsumerLeavingCancelsIt() {
    var garbage = UpstreamConnectionMachine(connecting: false, now: start)
    _ = garbage.attach(deadlines(), reused: false, now: start)
    let answer = garbage.received(bytes("SSH-2.0-OpenSSH\r\n\r\n"), now: start)
    #expect(answer.contains { if case .fail(.invalidResponse) = $0 { true } else { false } })
    #expect(answer.last == .close)

    var left = UpstreamConnectionMachine(connecting: false, now: start)
    _ = left.attach(deadlines(), reused: false, now: start)
    #expect(left.cancel() == [.fail(.cancelled), .close])
    #expect(left.cancel().isEmpty)
  }
}
