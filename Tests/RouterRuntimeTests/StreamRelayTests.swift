import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// An upstream body scripted chunk by chunk: each step a chunk, the end, or a transport error.
final class ScriptedSource: StreamSource {
  enum Step {
    case chunk(String)
    case end
    case error(UpstreamError)
  }

  private let steps = Mutex<[Step]>([])
  private let cancelled = Mutex(false)

  init(_ steps: [Step]) { self.steps.withLock { $0 = steps } }

  var wasCancelled: Bool { cancelled.withLock { $0 } }

  func next(deadline: MonotonicInstant?) async throws(UpstreamError) -> [UInt8]? {
    let step = steps.withLock { $0.isEmpty ? Step.end : $0.removeFirst() }
    switch step {
    case .chunk(let text): return Array(text.utf8)
    case .end: return nil
    case .error(let error): throw error
    }
  }

  func cancel() { cancelled.withLock { $0 = true } }
}

/// A client that records what reached it; `goneAfter` writes (the head counts as one) it has gone away.
final class RecordingSink: StreamSink {
  struct Seen {
    var started = false
    var bytes = ""
    var finished = false
    var aborted = false
    var calls = 0
  }

  private let seen = Mutex(Seen())
  let goneAfter: Int

  init(goneAfter: Int = .max) { self.goneAfter = goneAfter }

  var state: Seen { seen.withLock { $0 } }

  private func call() throws(HTTPResponderError) {
    let gone = seen.withLock { seen -> Bool in
      seen.calls += 1
      return seen.calls > goneAfter
    }
    if gone { throw .connectionClosed }
  }

  func startStream(status: Int, headers: [(String, String)]) async throws(HTTPResponderError) {
    try call()
    seen.withLock { $0.started = true }
  }

  func write(_ bytes: [UInt8]) async throws(HTTPResponderError) {
    try call()
    seen.withLock { $0.bytes += String(decoding: bytes, as: UTF8.self) }
  }

  func finish() async throws(HTTPResponderError) {
    try call()
    seen.withLock { $0.finished = true }
  }

  func abort() { seen.withLock { $0.aborted = true } }
}

/// The one stream relay, without sockets: commit on the first answer, in-band errors after it, hop failures
/// before it, and a client that went away recorded as 499.
@Suite struct StreamRelayTests {
  static let answer = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},"index":0}]}"#
  static let usage = #"{"candidates":[],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2}}"#
  static let openAIEvent =
    #"data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#
    + "\n\n"

  static func passthrough(sse: Bool) -> StreamRelay<PassthroughStreamForm> {
    StreamRelay(
      form: PassthroughStreamForm(backend: "b", contentType: "text/event-stream", sse: sse), backend: "b",
      policy: FallbackPolicy(fallbackOn: Set(FallbackTrigger.allCases)), firstAnswerDeadline: .now + .seconds(60),
      headers: [])
  }

  static func translated(sse: Bool) -> StreamRelay<TranslatedStreamForm> {
    let options = GeminiResponseOptions(
      includeThoughts: false, modelVersion: "m", responseId: "r", backend: "b", integerEnums: false)
    return StreamRelay(
      form: TranslatedStreamForm(backend: "b", options: options, sse: sse), backend: "b",
      policy: FallbackPolicy(fallbackOn: []), firstAnswerDeadline: .now + .seconds(60), headers: [])
  }

  /// The `healthy` of a served result; nil when the hop failed.
  static func served(_ result: HopResult) -> Bool?? {
    if case .served(let healthy) = result { return .some(healthy) }
    return nil
  }

  static func failure(_ result: HopResult) -> HopFailure? {
    if case .failed(let failure) = result { return failure }
    return nil
  }

  /// Defect: a passthrough stream with no event was answered as an empty 200. It is the hop's failure now,
  /// in either form, and nothing reaches the client.
  @Test(arguments: [
    (true, ""), (true, ": keep-alive\n\n"), (true, "\r\n\r\n"), (false, "[]"), (false, "[\r\n]"),
  ])
  func aPassthroughStreamWithNoEventIsAHopFailure(_ sse: Bool, _ body: String) async {
    var relay = Self.passthrough(sse: sse)
    let source = ScriptedSource([.chunk(body), .end])
    let client = RecordingSink()
    let result = await relay.run(from: source, to: client)
    #expect(Self.failure(result)?.fault == .invalidAnswer)
    #expect(Self.failure(result)?.outcome == "empty")
    #expect(!client.state.started && client.state.bytes.isEmpty)
    #expect(relay.facts.status == nil && relay.facts.committedAt == nil)
  }

  /// Bytes before the first event (SSE comments) are held and go out with it, after the head.
  @Test func bytesBeforeTheFirstAnswerGoWithIt() async {
    var relay = Self.passthrough(sse: true)
    let event = "data: \(Self.answer)\n\n"
    let source = ScriptedSource([.chunk(": ping\n\n"), .chunk(event), .end])
    let client = RecordingSink()
    let result = await relay.run(from: source, to: client)
    #expect(Self.served(result) == .some(true), "\(result)")
    #expect(client.state.bytes == ": ping\n\n" + event)
    #expect(client.state.finished && relay.facts.status == 200 && relay.facts.complete)
  }

  /// Defect: the JSON-array form of a passthrough stream cut mid-stream ends with an in-band error element
  /// and the array's `]`, without the terminating chunk.
  @Test func aPassthroughArrayCutMidStreamEndsWithAnErrorElement() async {
    var relay = Self.passthrough(sse: false)
    let source = ScriptedSource([
      .chunk("[" + Self.answer + ",\r\n"), .chunk(#"{"candidates":[{"cut"#), .error(.connectionReset("rst")),
    ])
    let client = RecordingSink()
    let result = await relay.run(from: source, to: client)
    #expect(Self.served(result) == .some(false), "\(result)")
    let bytes = client.state.bytes
    #expect(bytes.hasPrefix("[" + Self.answer))
    #expect(bytes.contains(#",\#r\#n{"error":{"code":503"#) && bytes.hasSuffix("]"))
    #expect(!bytes.contains("cut"))
    #expect(client.state.aborted && !client.state.finished)
    #expect(relay.facts.status == 503)
  }

  @Test(arguments: [true, false])
  func aFailureBeforeTheFirstAnswerIsTheHopsAndSendsNothing(_ sse: Bool) async {
    var relay = Self.passthrough(sse: sse)
    let source = ScriptedSource([.chunk(sse ? ": ping\n\n" : ""), .error(.timedOut(phase: .firstToken))])
    let client = RecordingSink()
    let result = await relay.run(from: source, to: client)
    #expect(Self.failure(result)?.fault == .timedOut(.firstToken))
    #expect(!client.state.started)
    #expect(source.wasCancelled)
  }

  /// The client gone when the head or a later event is written: 499, the upstream cancelled, no error written.
  @Test(arguments: [0, 1])
  func aClientThatWentAwayIs499(_ goneAfter: Int) async {
    for sse in [true, false] {
      var relay = Self.translated(sse: sse)
      let source = ScriptedSource([.chunk(Self.openAIEvent), .chunk(Self.openAIEvent), .end])
      let client = RecordingSink(goneAfter: goneAfter)
      let result = await relay.run(from: source, to: client)
      #expect(Self.served(result) == .some(nil), "\(result)")
      #expect(relay.facts.status == 499)
      #expect(source.wasCancelled)
      #expect(!client.state.aborted && !client.state.bytes.contains("error"))
    }
  }

  /// An upstream cancelled because the client went away mid-stream is 499, not an in-band error.
  @Test func anUpstreamCancelledMidStreamIs499() async {
    var relay = Self.passthrough(sse: true)
    let source = ScriptedSource([.chunk("data: \(Self.answer)\n\n"), .error(.cancelled)])
    let client = RecordingSink()
    _ = await relay.run(from: source, to: client)
    #expect(relay.facts.status == 499)
    #expect(!client.state.bytes.contains("error"))
  }

  /// Translated and passthrough streams share the rules: an upstream failure after the first answer is an
  /// in-band error in the client's form.
  @Test(arguments: [true, false])
  func aTranslatedStreamCutMidStreamEndsInBand(_ sse: Bool) async {
    var relay = Self.translated(sse: sse)
    let source = ScriptedSource([.chunk(Self.openAIEvent), .error(.timedOut(phase: .idle(.seconds(1))))])
    let client = RecordingSink()
    let result = await relay.run(from: source, to: client)
    #expect(Self.served(result) == .some(false), "\(result)")
    let bytes = client.state.bytes
    #expect(bytes.contains(#""text":"hi""#))
    #expect(bytes.contains(#"{"error":{"code":504"#) && bytes.contains("stalled mid-stream"))
    #expect(sse ? bytes.hasPrefix("data: ") : (bytes.hasPrefix("[") && bytes.hasSuffix("]")))
    #expect(client.state.aborted && relay.facts.status == 504)
  }

  @Test func usageIsNotedAndTheEstimateLeftToTheRecord() async {
    var relay = Self.passthrough(sse: true)
    let source = ScriptedSource([.chunk("data: \(Self.answer)\n\ndata: \(Self.usage)\n\n"), .end])
    _ = await relay.run(from: source, to: RecordingSink())
    #expect(relay.facts.usage == TokenUsage(input: 3, output: 2, reported: true))
    #expect(relay.facts.textBytes == 2)
  }
}

/// Defect (b) end to end: an empty passthrough stream is no success; the chain goes on, and a chain with
/// nothing left answers the failure instead of an empty 200.
@Suite(.serialized, .timeLimit(.minutes(1))) struct EmptyPassthroughStreamTests {
  static let bodies: [(String, String)] = [
    ("/v1beta/models/m:streamGenerateContent?alt=sse", ""),
    ("/v1beta/models/m:streamGenerateContent?alt=sse", ": keep-alive\r\n\r\n"),
    ("/v1beta/models/m:streamGenerateContent", "[]"),
  ]

  @Test(arguments: bodies.indices)
  func anEmptyPassthroughStreamMovesOnOrFails(_ index: Int) async throws {
    let (path, body) = Self.bodies[index]
    let bytes = Array(
      (RawHTTP.streamHead + (body.isEmpty ? "" : RawHTTP.chunk(body)) + RawHTTP.lastChunk).utf8)
    let empty = try RelayFidelityTests.once(bytes)
    let alone = try RelayFidelityTests.once(bytes)
    let sse = path.hasSuffix("alt=sse")
    let element = RelayFidelityTests.geminiAnswer(RelayFidelityTests.spareText)
    let spare = try RelayFidelityTests.once(
      Array(
        (RawHTTP.streamHead + RawHTTP.chunk(sse ? "data: \(element)\r\n\r\n" : "[\(element)]") + RawHTTP.lastChunk).utf8
      ))
    let suite = RelayFidelityTests()
    let chain = try suite.gateway("gemini", [empty, spare])
    let single = try suite.gateway("gemini", [alone])
    defer { stopAll(empty, alone, spare, chain, single) }
    let answer = try await chain.post(path, RelayFidelityTests.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"), "\(body)")
    #expect(answer.head.contains("x-louter-backend: b1"), "\(body): moved to the next backend")
    #expect(answer.body.contains(RelayFidelityTests.spareText), "\(body)")
    let last = try await single.post(path, RelayFidelityTests.hello)
    #expect(last.head.hasPrefix("HTTP/1.1 503"), "\(body)")
    #expect(last.body.contains("ended the stream without any answer"), "\(body)")
  }
}
