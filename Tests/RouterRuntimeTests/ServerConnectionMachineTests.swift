import Testing

@testable import RouterRuntime

/// The client connection's state machine, driven by events alone: no sockets, no clock.
@Suite struct ServerConnectionMachineTests {
  let start = MonotonicInstant.now
  let configuration = HTTPServerConfiguration(
    port: 0, maxHeadBytes: 1024, headTimeout: .seconds(10), bodyTimeout: .seconds(60), idleTimeout: .seconds(30))

  func machine() -> ServerConnectionMachine { ServerConnectionMachine(configuration: configuration, acceptedAt: start) }

  /// The request of the one `startHandler` in `actions`.
  func started(_ actions: [ServerConnectionMachine.Action]) -> [HTTPRequest] {
    actions.compactMap { if case .startHandler(let request, _) = $0 { request } else { nil } }
  }

  /// Everything `actions` write, as text.
  func written(_ actions: [ServerConnectionMachine.Action]) -> String {
    actions.map { if case .write(let bytes) = $0 { String(decoding: bytes, as: UTF8.self) } else { "" } }.joined()
  }

  func has(_ actions: [ServerConnectionMachine.Action], _ wanted: (ServerConnectionMachine.Action) -> Bool) -> Bool {
    actions.contains(where: wanted)
  }

  @Test func aRequestStartsTheHandlerAndItsAnswerIsFramedWithContentLength() throws {
    var machine = machine()
    let actions = machine.received(Array("GET /a HTTP/1.1\r\nHost: x\r\n\r\n".utf8), now: start)
    #expect(started(actions).map(\.target) == ["/a"])
    #expect(machine.phase == .handling)
    let answer = try machine.respond(
      status: 200, headers: [("content-type", "text/plain")], body: Array("hi".utf8), now: start)
    #expect(written(answer) == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nhi")
    #expect(has(answer) { if case .responseEnded = $0 { true } else { false } })
    #expect(!has(answer) { if case .closeAfterWriting = $0 { true } else { false } })
    // Kept alive: idle, with the idle deadline from the end of the answer.
    #expect(machine.phase == .idle)
    #expect(machine.deadline.expiry == start.advanced(by: .seconds(30)))
  }

  @Test func pipelinedRequestsWaitForTheOneInFlightAndAreAnsweredInOrder() throws {
    var machine = machine()
    let both = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    #expect(started(machine.received(Array(both.utf8), now: start)).map(\.target) == ["/1"])
    // Bytes of a third request arrive while /1 is answered: held, not parsed yet.
    #expect(machine.received(Array("GET /3 HTTP/1.1\r\n\r\n".utf8), now: start).isEmpty)
    let afterFirst = try machine.respond(status: 204, headers: [], body: [], now: start)
    #expect(started(afterFirst).map(\.target) == ["/2"])
    let afterSecond = try machine.respond(status: 204, headers: [], body: [], now: start)
    #expect(started(afterSecond).map(\.target) == ["/3"])
  }

  @Test func tooMuchPipelinedInputPausesReadingUntilTheAnswerEnds() throws {
    var machine = machine()
    _ = machine.received(Array("POST /a HTTP/1.1\r\ncontent-length: 0\r\n\r\n".utf8), now: start)
    let flood = [UInt8](repeating: 0x41, count: 2048)
    #expect(has(machine.received(flood, now: start)) { if case .pauseReading = $0 { true } else { false } })
    let answer = try machine.respond(status: 200, headers: [], body: [], now: start)
    #expect(has(answer) { if case .resumeReading = $0 { true } else { false } })
    // The flood is then parsed: a request line longer than the head may be, so a 431 and close.
    #expect(written(answer).contains("431 Request Header Fields Too Large"))
    #expect(has(answer) { if case .closeAfterWriting = $0 { true } else { false } })
  }

  @Test func aStreamIsChunkedOnHTTP11AndCloseDelimitedOnHTTP10() throws {
    var chunked = machine()
    _ = chunked.received(Array("GET /s HTTP/1.1\r\n\r\n".utf8), now: start)
    #expect(written(try chunked.startStream(status: 200, headers: [])).contains("transfer-encoding: chunked\r\n"))
    #expect(written(try chunked.streamChunk(Array("hello".utf8))) == "5\r\nhello\r\n")
    let long = String(repeating: "ab", count: 150)
    #expect(written(try chunked.streamChunk(Array(long.utf8))) == "12c\r\n\(long)\r\n")
    let end = try chunked.finishStream(now: start)
    #expect(written(end) == "0\r\n\r\n")
    #expect(!has(end) { if case .closeAfterWriting = $0 { true } else { false } })

    var plain = machine()
    _ = plain.received(Array("GET /s HTTP/1.0\r\n\r\n".utf8), now: start)
    let head = written(try plain.startStream(status: 200, headers: []))
    #expect(head.hasPrefix("HTTP/1.0 200 OK\r\n") && !head.contains("chunked"))
    #expect(written(try plain.streamChunk(Array("hello".utf8))) == "hello")
    // The end of a close-delimited body is the close itself.
    #expect(has(try plain.finishStream(now: start)) { if case .closeAfterWriting = $0 { true } else { false } })
  }

  @Test func callsOutOfOrderAreRefusedNotWritten() throws {
    var machine = machine()
    _ = machine.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: start)
    #expect(throws: HTTPResponderError.self) { try machine.streamChunk([1]) }
    _ = try machine.respond(status: 200, headers: [], body: [], now: start)
    #expect(throws: HTTPResponderError.self) { try machine.respond(status: 200, headers: [], body: [], now: start) }
  }

  @Test func aHandlerThatReturnsSilentGets500AndAnUnfinishedStreamIsCutNotCompleted() throws {
    var silent = machine()
    _ = silent.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: start)
    #expect(written(silent.handlerReturned(now: start)).hasPrefix("HTTP/1.1 500 Internal Server Error"))

    var streaming = machine()
    _ = streaming.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: start)
    _ = try streaming.startStream(status: 200, headers: [])
    let cut = streaming.handlerReturned(now: start)
    #expect(!written(cut).contains("0\r\n\r\n"))
    #expect(has(cut) { if case .closeAfterWriting = $0 { true } else { false } })
  }

  @Test func theClientLeavingCancelsTheHandler() {
    var machine = machine()
    _ = machine.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: start)
    let actions = machine.peerClosed()
    #expect(has(actions) { if case .cancelHandler = $0 { true } else { false } })
    #expect(has(actions) { if case .closeNow = $0 { true } else { false } })
  }

  @Test func deadlinesAnswer408MidRequestAndCloseQuietlyWhenIdle() {
    var partial = machine()
    let first = partial.received(Array("GET / HT".utf8), now: start)
    // The head's deadline runs from its first byte.
    #expect(has(first) { if case .deadline(let at) = $0 { at == start.advanced(by: .seconds(10)) } else { false } })
    #expect(
      partial.deadlineReached(now: start.advanced(by: .seconds(9))).allSatisfy {
        if case .deadline = $0 { true } else { false }
      })
    let late = partial.deadlineReached(now: start.advanced(by: .seconds(10)))
    #expect(written(late).hasPrefix("HTTP/1.1 408 Request Timeout"))

    var idle = machine()
    let quiet = idle.deadlineReached(now: start.advanced(by: .seconds(10)))
    #expect(written(quiet).isEmpty)
    #expect(has(quiet) { if case .closeNow = $0 { true } else { false } })
  }

  @Test func drainingClosesIdleConnectionsAndMakesTheAnswerInFlightTheLast() throws {
    var idle = machine()
    #expect(has(idle.serverDraining()) { if case .closeNow = $0 { true } else { false } })

    var busy = machine()
    _ = busy.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: start)
    #expect(busy.serverDraining().isEmpty)
    let answer = try busy.respond(status: 200, headers: [], body: [], now: start)
    #expect(written(answer).contains("connection: close\r\n"))
    #expect(has(answer) { if case .closeAfterWriting = $0 { true } else { false } })
  }

  @Test func aMalformedRequestGetsAJSONErrorAndTheConnectionCloses() {
    var machine = machine()
    let actions = machine.received(Array("GET / HTTP/1.1\r\nbad header\r\n\r\n".utf8), now: start)
    #expect(started(actions).isEmpty)
    #expect(written(actions).hasPrefix("HTTP/1.1 400 Bad Request"))
    #expect(written(actions).contains("\"status\":"))
    #expect(has(actions) { if case .closeAfterWriting = $0 { true } else { false } })
    // What follows is ignored.
    #expect(machine.received(Array("GET / HTTP/1.1\r\n\r\n".utf8), now: start).isEmpty)
  }
}

/// The loop's deadlines, without a loop.
@Suite struct TimerHeapTests {
  let start = MonotonicInstant.now

  @Test func expiredPayloadsComeOutEarliestFirstAndCancelledOnesNever() {
    var heap = TimerHeap<Int>()
    _ = heap.schedule(at: start.advanced(by: .seconds(3)), 3)
    let cancelled = heap.schedule(at: start.advanced(by: .seconds(1)), 1)
    _ = heap.schedule(at: start.advanced(by: .seconds(2)), 2)
    _ = heap.schedule(at: start.advanced(by: .seconds(9)), 9)
    let firstCancel = heap.cancel(cancelled)
    let secondCancel = heap.cancel(cancelled)
    #expect(firstCancel && !secondCancel)
    let nearest = heap.nearest()
    #expect(nearest == start.advanced(by: .seconds(2)))
    let due = heap.popExpired(at: start.advanced(by: .seconds(5)))
    #expect(due == [2, 3])
    #expect(heap.count == 1)
    let again = heap.popExpired(at: start.advanced(by: .seconds(5)))
    #expect(again.isEmpty)
  }

  @Test func theWaitIsRoundedUpSoTheLoopNeverWakesEarly() {
    var heap = TimerHeap<Int>()
    let none = heap.waitMilliseconds(from: start)
    _ = heap.schedule(at: start.advanced(by: .microseconds(1500)), 0)
    let soon = heap.waitMilliseconds(from: start)
    let due = heap.waitMilliseconds(from: start.advanced(by: .seconds(1)))
    #expect(none == -1 && soon == 2 && due == 0)
    // Exactly on a millisecond it is that millisecond; a nanosecond more is the next one.
    #expect(heap.waitMilliseconds(from: start.advanced(by: .microseconds(500))) == 1)
    #expect(heap.waitMilliseconds(from: start.advanced(by: .nanoseconds(499_999))) == 2)
    var far = TimerHeap<Int>()
    _ = far.schedule(at: start.advanced(by: .seconds(100_000_000)), 0)
    let farWait = far.waitMilliseconds(from: start)
    #expect(farWait == Int32.max)
  }

  @Test func armingAndCancellingForeverDoesNotGrowTheHeap() {
    var heap = TimerHeap<Int>()
    _ = heap.schedule(at: start.advanced(by: .seconds(1000)), 0)
    for index in 0..<10_000 {
      let id = heap.schedule(at: start.advanced(by: .seconds(Int64(2000 + index))), index)
      heap.cancel(id)
    }
    #expect(heap.count == 1)
    #expect(heap.storedEntries < 200)
  }
}
