import RouteSpec
import Testing

@testable import RouterRuntime

/// A chunked response body taken apart: the payload, and whether it ended with its terminating chunk.
struct ChunkedBody {
  var payload = ""
  var terminated = false

  init(_ raw: String) {
    var rest = Substring(raw)
    while let lineEnd = rest.firstRange(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16) {
      rest = rest[lineEnd.upperBound...]
      if size == 0 {
        terminated = true
        return
      }
      let bytes = rest.utf8.prefix(size)
      payload += String(decoding: bytes, as: UTF8.self)
      rest = Substring(String(decoding: rest.utf8.dropFirst(size + 2), as: UTF8.self))
    }
  }
}

/// What louter relays from a backend whose answer is cut, overlong or not UTF-8: a non-streamed 2xx answer
/// is one JSON value or a backend failure that moves down the chain; a stream relays whole events only,
/// and a stream cut short ends with an in-band error and without its terminating chunk.
@Suite(.serialized, .timeLimit(.minutes(1))) struct RelayFidelityTests {
  static let hello = GatewayTests.hello
  static let generate = "/v1beta/models/m:generateContent"
  static let streamGenerate = "/v1beta/models/m:streamGenerateContent?alt=sse"
  static let spareText = "from the spare"

  static func geminiAnswer(_ text: String) -> String {
    #"{"candidates":[{"content":{"role":"model","parts":[{"text":"\#(text)"}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}"#
  }

  static func openAIEvent(_ content: String) -> String {
    #"data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"\#(content)"},"finish_reason":null}]}"#
      + "\n\n"
  }

  /// A head with `Content-Length: declared`, then `body` (which may be longer or shorter).
  static func declared(_ declared: Int, _ body: [UInt8], type: String = "application/json") -> [UInt8] {
    Array("HTTP/1.1 200 OK\r\nContent-Type: \(type)\r\nContent-Length: \(declared)\r\n\r\n".utf8) + body
  }

  /// A stream head whose body ends when the backend closes the connection.
  static let closeDelimitedStreamHead = Array("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n".utf8)

  /// A backend answering every request well, streamed or not, in `protocolName`.
  static func spare(_ protocolName: String) throws -> RawFakeBackend {
    try RawFakeBackend { connection in
      while let request = connection.readRequest() {
        let streamed = request.contains("streamGenerateContent") || request.contains("\"stream\":true")
        let answer: String
        if !streamed {
          answer =
            protocolName == "gemini"
            ? RawHTTP.response(200, geminiAnswer(spareText))
            : RawHTTP.response(
              200,
              #"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"\#(spareText)"},"finish_reason":"stop"}]}"#
            )
        } else if protocolName == "gemini" {
          answer =
            RawHTTP.streamHead + RawHTTP.chunk("data: " + geminiAnswer(spareText) + "\r\n\r\n") + RawHTTP.lastChunk
        } else {
          answer =
            RawHTTP.streamHead + RawHTTP.chunk(openAIEvent(spareText)) + RawHTTP.chunk("data: [DONE]\n\n")
            + RawHTTP.lastChunk
        }
        guard connection.write(answer) else { return }
      }
    }
  }

  /// A backend that reads one request, writes `bytes` and closes.
  static func once(_ bytes: [UInt8]) throws -> RawFakeBackend {
    try RawFakeBackend { connection in
      guard connection.readRequest() != nil else { return }
      connection.write(bytes)
    }
  }

  /// Serves `backends` as one chain; broken streams end in-band (`continue_on_break = false`) unless
  /// `continuing`, so that these tests see what the relay itself writes.
  func gateway(_ protocolName: String, _ backends: [RawFakeBackend], continuing: Bool = false) throws
    -> GatewayUnderTest
  {
    var text = "[server]\nauth = \"none\"\n"
    let path = protocolName == "openai" ? "/v1" : ""
    for (index, backend) in backends.enumerated() {
      text +=
        "[backends.b\(index)]\nprotocol = \"\(protocolName)\"\nurl = \"http://127.0.0.1:\(backend.port)\(path)\"\n"
    }
    text += "[[routes]]\nbackends = [\(backends.indices.map { "\"b\($0)\"" }.joined(separator: ", "))]\n"
    text += "continue_on_break = \(continuing)\n"
    return try GatewayUnderTest(text)
  }

  // MARK: non-streamed passthrough: one JSON value or a bad answer

  static let notJSONAnswers: [(String, [UInt8])] = {
    let answer = Array(geminiAnswer("hi there").utf8)
    var invalid = Array(geminiAnswer("hi").utf8)
    invalid.insert(contentsOf: [0xFF, 0xFE, 0xC0, 0xAF, 0xED, 0xA0, 0x80], at: invalid.count - 60)
    return [
      ("cut by its Content-Length", declared(answer.count - 10, answer)),
      ("not UTF-8", declared(invalid.count, invalid)),
    ]
  }()

  @Test(arguments: notJSONAnswers.indices)
  func aPassthroughAnswerThatIsNotOneJSONValueIsABadAnswer(_ index: Int) async throws {
    let (name, bytes) = Self.notJSONAnswers[index]
    let bad = try Self.once(bytes)
    let alone = try Self.once(bytes)
    let spare = try Self.spare("gemini")
    let chain = try gateway("gemini", [bad, spare])
    let single = try gateway("gemini", [alone])
    defer { stopAll(bad, alone, spare, chain, single) }
    let answer = try await chain.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"), "\(name)")
    #expect(answer.head.contains("x-louter-backend: b1"), "\(name): moved to the next backend")
    #expect(answer.body.contains(Self.spareText), "\(name)")
    let last = try await single.post(Self.generate, Self.hello)
    #expect(last.head.hasPrefix("HTTP/1.1 502"), "\(name)")
    #expect(last.body.contains("backend 'b0' sent a body that is not JSON"), "\(name)")
  }

  @Test func aPassthroughStreamWhoseFirstEventIsNotUTF8FallsBack() async throws {
    var event = Array(("data: " + Self.geminiAnswer("hi") + "\r\n\r\n").utf8)
    event.insert(contentsOf: [0xFF, 0xFE], at: 20)
    let bad = try Self.once(Self.closeDelimitedStreamHead + event)
    let spare = try Self.spare("gemini")
    let chain = try gateway("gemini", [bad, spare])
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post(Self.streamGenerate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b1"))
    #expect(ChunkedBody(answer.body).payload.contains(Self.spareText))
  }

  // MARK: streams cut short

  @Test func aPassthroughStreamCutMidEventRelaysWholeEventsThenAnInBandError() async throws {
    let first = "data: " + Self.geminiAnswer("first") + "\r\n\r\n"
    let bad = try Self.once(Self.closeDelimitedStreamHead + Array((first + #"data: {"candidates":[{"cut-here"#).utf8))
    let spare = try Self.spare("gemini")
    let chain = try gateway("gemini", [bad, spare])
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post(Self.streamGenerate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b0"), "committed: no fallback after the first event")
    let body = ChunkedBody(answer.body)
    #expect(body.payload.hasPrefix(first), "the whole first event, byte for byte")
    #expect(!body.payload.contains("cut-here"), "the partial event is dropped")
    #expect(
      String(decoding: body.payload.utf8.dropFirst(first.utf8.count), as: UTF8.self).hasPrefix(#"data: {"error":"#))
    #expect(body.payload.contains("ended the stream inside an event"))
    #expect(!body.terminated, "no terminating chunk: the client cannot take it for a whole answer")
  }

  @Test func aPassthroughStreamCutMidEventIsContinuedAsFurtherEventsOfTheSameResponse() async throws {
    let first = "data: " + Self.geminiAnswer("first") + "\r\n\r\n"
    let bad = try Self.once(Self.closeDelimitedStreamHead + Array((first + #"data: {"candidates":[{"cut-here"#).utf8))
    let spare = try Self.spare("gemini")
    let chain = try gateway("gemini", [bad, spare], continuing: true)
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post(Self.streamGenerate, Self.hello)
    #expect(answer.head.contains("x-louter-backend: b0"))
    let body = ChunkedBody(answer.body)
    #expect(body.payload.hasPrefix(first), "the first part stays byte for byte")
    #expect(!body.payload.contains("cut-here") && !body.payload.contains("\"error\""))
    #expect(body.payload.contains(Self.spareText), "the spare's continuation follows in the same response")
    #expect(body.terminated, "a continued answer ends like a whole one")
    #expect(spare.requestCount == 1)
  }

  @Test func aPassthroughStreamCutByItsLengthEndsWithAnInBandError() async throws {
    let events = ["one", "two"].map { "data: " + Self.geminiAnswer($0) + "\r\n\r\n" }.joined()
    let bytes = Array(events.utf8)
    let bad = try Self.once(Self.declared(bytes.count - 10, bytes, type: "text/event-stream"))
    let spare = try Self.spare("gemini")
    let chain = try gateway("gemini", [bad, spare])
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post(Self.streamGenerate, Self.hello)
    let body = ChunkedBody(answer.body)
    #expect(answer.head.contains("x-louter-backend: b0"))
    #expect(body.payload.contains(#""text":"one""#))
    #expect(!body.payload.contains(#""text":"two""#), "the cut event is not relayed")
    #expect(body.payload.contains(#"data: {"error":"#))
    #expect(!body.terminated)
  }

  @Test func aPassthroughJSONArrayStreamCutMidElementEndsWithAnInBandErrorElement() async throws {
    let first = "[" + Self.geminiAnswer("first")
    let cut = first + ",\r\n" + #"{"candidates":[{"cut-here"#
    let bad = try Self.once(Array("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n\(cut)".utf8))
    let spare = try Self.spare("gemini")
    let chain = try gateway("gemini", [bad, spare])
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post("/v1beta/models/m:streamGenerateContent", Self.hello)
    #expect(answer.head.contains("x-louter-backend: b0"))
    let body = ChunkedBody(answer.body)
    #expect(body.payload.hasPrefix(first))
    #expect(!body.payload.contains("cut-here"), "the partial element is dropped")
    let error = String(decoding: body.payload.utf8.dropFirst(first.utf8.count), as: UTF8.self)
    #expect(error.hasPrefix(",\r\n" + #"{"error":"#) && error.hasSuffix("]"), "an in-band error element")
    #expect(!body.terminated)
  }

  // The two below held before this suite (the transport reports a body shorter than declared); they pin
  // the in-band error and the missing terminating chunk that the e2e client must accept.
  @Test(arguments: ["gemini", "openai"])
  func aStreamEndedBeforeItsDeclaredLengthEndsWithAnInBandError(_ protocolName: String) async throws {
    let event =
      protocolName == "gemini" ? "data: " + Self.geminiAnswer("first") + "\r\n\r\n" : Self.openAIEvent("first")
    let bytes = Array(event.utf8)
    let bad = try Self.once(Self.declared(bytes.count + 100, bytes, type: "text/event-stream"))
    let spare = try Self.spare(protocolName)
    let chain = try gateway(protocolName, [bad, spare])
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post(Self.streamGenerate, Self.hello)
    let body = ChunkedBody(answer.body)
    #expect(answer.head.contains("x-louter-backend: b0"))
    #expect(body.payload.contains("first"))
    #expect(body.payload.contains(#"data: {"error":"#))
    #expect(!body.terminated)
  }

  @Test func anOpenAIStreamCutMidEventEndsWithAnInBandError() async throws {
    let cut = Self.openAIEvent("first") + #"data: {"choices":[{"index":0,"del"#
    let bad = try Self.once(Self.closeDelimitedStreamHead + Array(cut.utf8))
    let spare = try Self.spare("openai")
    let chain = try gateway("openai", [bad, spare])
    defer { stopAll(bad, spare, chain) }
    let answer = try await chain.post(Self.streamGenerate, Self.hello)
    let body = ChunkedBody(answer.body)
    #expect(body.payload.contains("first"))
    #expect(body.payload.contains(#"data: {"error":"#))
    #expect(!body.terminated)
  }
}

@Suite struct SSEEventFramerTests {
  static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

  @Test func eventsAreRelayedWholeWhateverThePiecesAndLineEnds() throws {
    let stream = "data: {\"a\":1}\r\n\r\ndata: {\"b\":\n: comment\ndata: 2}\n\ndata: {\"c\":3}\r\r"
    let all = Self.bytes(stream)
    // Every split point, including inside a CRLF.
    for split in 0...all.count {
      var framer = SSEEventFramer()
      let first = try framer.feed(Array(all[..<split]))
      let second = try framer.feed(Array(all[split...]))
      #expect(first.bytes + second.bytes == all, "split at \(split)")
      #expect(
        first.events + second.events == [.object(["a": 1]), .object(["b": 2]), .object(["c": 3])], "split at \(split)")
      #expect(!framer.holdsPartialEvent)
    }
  }

  @Test func aPieceEndingInsideAnEventHoldsItBack() throws {
    var framer = SSEEventFramer()
    let piece = try framer.feed(Self.bytes("data: {\"a\":1}\n\ndata: {\"b\""))
    #expect(piece.bytes == Self.bytes("data: {\"a\":1}\n\n"))
    #expect(framer.holdsPartialEvent)
    let rest = try framer.feed(Self.bytes(":2}\n"))
    #expect(rest.bytes.isEmpty, "one line end is no event end")
    #expect(framer.holdsPartialEvent)
    #expect(try framer.feed(Self.bytes("\n")).events == [.object(["b": 2])])
    #expect(!framer.holdsPartialEvent)
  }

  @Test func anEventThatIsNotUTF8OrNotJSONIsRefused() {
    var invalid = SSEEventFramer()
    #expect(throws: SSEEventFramer.Failure.self) {
      _ = try invalid.feed([0x64, 0x61, 0x74, 0x61, 0x3A, 0xFF, 0x0A, 0x0A])
    }
    var cut = SSEEventFramer()
    #expect(throws: SSEEventFramer.Failure.self) { _ = try cut.feed(Self.bytes("data: {\"a\":\n\n")) }
  }
}

@Suite struct JSONArrayFramerTests {
  static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

  @Test func elementsAreRelayedWholeWhateverThePieces() throws {
    let all = Self.bytes("[{\"a\":\"x]}\\\"{\"},\r\n{\"b\":[1,{\"c\":2}]}\r\n]")
    for split in 0...all.count {
      var framer = JSONArrayFramer()
      let first = try framer.feed(Array(all[..<split]))
      let second = try framer.feed(Array(all[split...]))
      #expect(first.bytes + second.bytes == all, "split at \(split)")
      #expect(
        first.events + second.events == [.object(["a": "x]}\"{"]), .object(["b": [1, .object(["c": 2])]])],
        "split at \(split)")
      #expect(framer.closed)
    }
  }

  @Test func aPieceEndingInsideAnElementHoldsItBack() throws {
    var framer = JSONArrayFramer()
    let piece = try framer.feed(Self.bytes("[{\"a\":1},\r\n{\"b\""))
    #expect(piece.bytes == Self.bytes("[{\"a\":1}"))
    #expect(!framer.closed)
    #expect(try framer.feed(Self.bytes(":2}")).bytes == Self.bytes(",\r\n{\"b\":2}"))
  }

  @Test func whatIsNoArrayOfObjectsIsRefused() {
    for text in ["{\"a\":1}", "[1]", "[\"s\"]", "[{\"a\":1}]]", "[{\"a\":1}}", "[{\"a\":\u{1}}]"] {
      var framer = JSONArrayFramer()
      #expect(throws: SSEEventFramer.Failure.self, "\(text)") { _ = try framer.feed(Self.bytes(text)) }
    }
    var invalid = JSONArrayFramer()
    #expect(throws: SSEEventFramer.Failure.self) {
      _ = try invalid.feed([0x5B, 0x7B, 0x22, 0xFF, 0x22, 0x3A, 0x31, 0x7D])
    }
  }
}
