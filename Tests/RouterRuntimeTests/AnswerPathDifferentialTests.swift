import RouteSpec
import Testing

@testable import RouterRuntime

/// The way back from a backend, each piece against an independent reference over seeded generated input: the
/// answer's bytes against the tree's translation serialised, the body's chunk queue against an array, a body read
/// whole against its chunks joined, and the connection's reused buffers against a fresh parser per read.
@Suite struct AnswerPathDifferentialTests {
  static let options = [
    GeminiResponseOptions(modelVersion: "m", responseId: "r"),
    GeminiResponseOptions(includeThoughts: true, modelVersion: "m\u{1}é", responseId: "r\""),
  ]

  @Test func answerBytesAreTheTreesTranslationSerialised() throws {
    var maker = GeneratedAnswerTests.AnswerMaker(random: SeededGenerator(state: 909))
    var plain = 0
    var several = 0
    for _ in 0..<4000 {
      let body = maker.answer()
      for options in Self.options {
        let fromBytes = AnswerWriterTests.AnswerOutcome(fromBytes: body, options: options)
        // The reference never takes the plain answer's writer: the general translation, then the tree's writer.
        let reference: AnswerWriterTests.AnswerOutcome
        do {
          let json = try JSONParser.parse(body)
          let translated = try OpenAIToGemini.translate(json, options: options)
          reference = .answer(
            translated.json.serializedBytes(), usage: GeminiUsageCounts(openAI: json["usage"]),
            warnings: translated.warnings)
        } catch let error as JSONParseError {
          reference = .notJSON(error)
        } catch let error as GeminiError {
          reference = .refused(error)
        }
        #expect(fromBytes == reference, "\(String(decoding: body, as: UTF8.self)) \(options)")
        guard let read = PlainOpenAIAnswer(answer: body, options: options) else { continue }
        plain += 1
        if read.candidates.count > 1 { several += 1 }
      }
    }
    // Enough plain answers, several of them with more than one choice to sort, for the writer to be what is tested.
    #expect(plain > 1000)
    #expect(several > 200)
  }

  @Test func theChunkQueueKeepsTheOrderOfAnArray() {
    var random = SeededGenerator(state: 77)
    for _ in 0..<500 {
      var queue = ChunkQueue()
      var reference: [[UInt8]] = []
      var next: UInt8 = 0
      for _ in 0..<Int(random.next() % 40) {
        switch random.next() % 10 {
        case 0..<5:
          next &+= 1
          let chunk = [UInt8](repeating: next, count: Int(random.next() % 3) + 1)
          queue.append(chunk)
          reference.append(chunk)
        case 5..<9:
          #expect(queue.removeFirst() == (reference.isEmpty ? nil : reference.removeFirst()))
        default:
          queue.removeAll()
          reference.removeAll()
        }
        #expect(queue.isEmpty == reference.isEmpty)
      }
      while let chunk = queue.removeFirst() { #expect(chunk == reference.removeFirst()) }
      #expect(reference.isEmpty)
    }
  }

  @Test func aBodyReadWholeIsItsChunksJoined() async throws {
    var random = SeededGenerator(state: 5)
    for _ in 0..<300 {
      let chunks = (0..<Int(random.next() % 5)).map { _ in
        (0..<Int(random.next() % 6)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
      }
      let joined = chunks.flatMap { $0 }
      let limit = Int(random.next() % 20)
      do {
        let read = try await Exchange.readAll(UpstreamBody(chunks: chunks), limit: limit)
        #expect(read == joined)
        #expect(joined.count <= limit)
      } catch {
        #expect(error == .tooLarge)
        #expect(joined.count > limit)
      }
    }
  }

  /// One response's bytes: a status, a head of a few fields, and a body framed by length, chunks or the close.
  static func response(_ random: inout SeededGenerator) -> (bytes: [UInt8], body: [UInt8], byClose: Bool) {
    let body = (0..<Int(random.next() % 40)).map { _ in UInt8(truncatingIfNeeded: random.next() % 256) }
    var head = "HTTP/1.1 \(random.next() % 2 == 0 ? 200 : 404) OK\r\nServer: test\r\n"
    var framed: [UInt8]
    var byClose = false
    switch random.next() % 3 {
    case 0:
      head += "Content-Length: \(body.count)\r\n"
      framed = body
    case 1:
      head += "Transfer-Encoding: chunked\r\n"
      framed = []
      var rest = body[...]
      while !rest.isEmpty {
        let size = min(rest.count, Int(random.next() % 9) + 1)
        framed += Array(String(size, radix: 16).utf8) + [13, 10] + rest.prefix(size) + [13, 10]
        rest = rest.dropFirst(size)
      }
      framed += Array("0\r\n\r\n".utf8)
    default:
      head += "Connection: close\r\n"
      framed = body
      byClose = true
    }
    return (Array((head + "\r\n").utf8) + framed, body, byClose)
  }

  @Test func aConnectionsReusedBuffersDeliverWhatAFreshParserReads() {
    var random = SeededGenerator(state: 31)
    let start = MonotonicInstant.now
    let deadlines = UpstreamDeadlines(
      UpstreamRequest(
        method: "POST", url: "http://127.0.0.1:1/", headers: [], body: [], connectTimeout: .seconds(2),
        firstByteTimeout: .seconds(10), streamIdleTimeout: .seconds(5), totalTimeout: .seconds(60)),
      start: start)
    // One machine and one action buffer for every response, as a kept-alive connection has them.
    var machine = UpstreamConnectionMachine(connecting: false, now: start)
    var actions: [UpstreamConnectionMachine.Action] = []
    for _ in 0..<3000 {
      if machine.isClosed { machine = UpstreamConnectionMachine(connecting: false, now: start) }
      let (bytes, body, byClose) = Self.response(&random)
      machine.attach(deadlines, reused: false, now: start, into: &actions)
      machine.requestSent(into: &actions)
      actions.removeAll(keepingCapacity: true)
      var reference = HTTPResponseParser()
      var expectedEvents: [HTTPResponseParser.Event] = []
      var delivered: [UpstreamConnectionMachine.Action] = []
      var rest = bytes[...]
      while !rest.isEmpty {
        let piece = rest.prefix(Int(random.next() % 30) + 1)
        rest = rest.dropFirst(piece.count)
        expectedEvents += reference.feed(piece)
        machine.received(piece, now: start, into: &actions)
        delivered += actions
        actions.removeAll(keepingCapacity: true)
      }
      if byClose {
        expectedEvents += reference.endOfStream()
        delivered += machine.endOfInput(now: start)
      }
      // The reference's events as actions: a head, the body's pieces, its end.
      var expectedBody: [UInt8] = []
      var expectedHeads: [Int] = []
      for event in expectedEvents {
        switch event {
        case .head(let status, _, _): expectedHeads.append(status)
        case .body(let piece): expectedBody += piece
        case .end, .error: break
        }
      }
      var heads: [Int] = []
      var read: [UInt8] = []
      var finished = 0
      for action in delivered {
        switch action {
        case .deliverHead(let status, _): heads.append(status)
        case .deliverBody(let piece): read += piece
        case .finishBody: finished += 1
        default: break
        }
      }
      #expect(heads == expectedHeads)
      #expect(read == expectedBody)
      #expect(read == body)
      #expect(finished == 1)
      #expect(!machine.isBusy)
    }
  }
}

/// The idle pool's shortcuts (a connection knows its address's list, the address served last is not hashed) against
/// what the pool must do: exchanges to backends on several ports in a seeded random order, each answered by its own
/// backend over the one connection that backend ever got.
@Suite(.serialized, .timeLimit(.minutes(1))) struct AnswerPathPoolTests {
  @Test func eachAddressReusesItsOwnConnections() async throws {
    let backends = try (0..<3).map { index in
      try RawFakeBackend { connection in
        while connection.readRequest() != nil {
          guard connection.write("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n\(index)") else { return }
        }
      }
    }
    defer { for backend in backends { backend.stop() } }
    let reactor = try await UpstreamPoolLimitTests.reactor(.init(idlePerAddress: 8, idleTimeout: .seconds(600)))
    var random = SeededGenerator(state: 12)
    for _ in 0..<120 {
      let index = Int(random.next() % 3)
      let answer = await UpstreamPoolLimitTests.exchange(on: reactor, port: backends[index].port)
      #expect(answer == "\(index)")
    }
    #expect(backends.map(\.connectionCount) == [1, 1, 1])
    #expect(await reactor.perform { reactor.upstreamPool.idleConnections } == 3)
    await reactor.stop()
  }
}
