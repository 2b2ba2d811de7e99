import RouteSpec
import Testing

@testable import RouterRuntime

/// The upstream fault matrix: each fault injected through a fake backend on 127.0.0.1.
@Suite(.serialized, .timeLimit(.minutes(1))) struct FaultMatrixTests {
  typealias Answer = @Sendable (HTTPRequest, HTTPResponder) async -> Void
  static let hello = GatewayTests.hello
  static let ok = FakeBackend.completion

  static func chunk(_ content: String?, finish: String? = nil) -> String {
    let delta = content.map { #"{"content":"\#($0)"}"# } ?? #"{"role":"assistant"}"#
    let reason = finish.map { "\"\($0)\"" } ?? "null"
    return
      #"data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(reason)}]}"#
      + "\n\n"
  }

  /// A stream that sends `first` at once, then runs `rest`.
  static func stream(_ first: [String], then rest: @escaping @Sendable (HTTPResponder) async -> Void) -> Answer {
    { _, responder in
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      for text in first { try? await responder.write(Array(text.utf8)) }
      await rest(responder)
    }
  }

  func gateway(_ backends: [FakeBackend], idle: String = "30s") throws -> GatewayUnderTest {
    var text = "[server]\nauth = \"none\"\n"
    for (index, backend) in backends.enumerated() {
      text +=
        "[backends.b\(index)]\nprotocol = \"openai\"\nurl = \"http://127.0.0.1:\(backend.port)/v1\"\n"
        + "first_byte_timeout = \"400ms\"\nstream_idle_timeout = \"\(idle)\"\n"
    }
    text += "[[routes]]\nbackends = [\(backends.indices.map { "\"b\($0)\"" }.joined(separator: ", "))]\n"
    return try GatewayUnderTest(text)
  }

  @Test func f01RetryAfter429MovesOnNowOrCarriesTheDelay() async throws {
    let limited = try FakeBackend { _, responder in
      try? await responder.respond(
        status: 429, headers: [("retry-after", "7"), ("content-type", "application/json")],
        body: Array(#"{"error":{"message":"quota","type":"rate_limit_error"}}"#.utf8))
    }
    let spare = try FakeBackend(Self.ok)
    let answer = try await gateway([limited, spare]).post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.contains("x-louter-backend: b1"))
    let alone = try await gateway([limited]).post("/v1beta/models/m:generateContent", Self.hello)
    #expect(alone.head.hasPrefix("HTTP/1.1 429"))
    #expect(alone.body.contains("\"retryDelay\":\"7s\""))
  }

  @Test func f04A503ThatPersistsWalksTheChainThen503() async throws {
    let down = FakeBackend.json(503, #"{"error":{"message":"overloaded","type":"server_error"}}"#)
    let first = try FakeBackend(down)
    let second = try FakeBackend(down)
    let answer = try await gateway([first, second]).post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 503"))
    #expect(answer.body.contains("UNAVAILABLE"))
    #expect(first.requestCount == 1 && second.requestCount == 1)
  }

  @Test func f05AResetBeforeTheAnswerMovesOn() async throws {
    let reset = try FakeBackend { _, responder in responder.abort() }
    let spare = try FakeBackend(Self.ok)
    let answer = try await gateway([reset, spare]).post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b1"))
  }

  @Test func f07ASlowFirstTokenMovesOnBeforeAnythingIsSent() async throws {
    let slow = try FakeBackend(
      Self.stream([Self.chunk(nil)]) { responder in
        try? await Task.sleep(for: .seconds(3))
        try? await responder.write(Array(Self.chunk("late").utf8))
      })
    let spare = try FakeBackend(FakeBackend.stream(["fast"]))
    let answer = try await gateway([slow, spare]).post("/v1beta/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(answer.head.contains("x-louter-backend: b1"))
    #expect(answer.body.contains("fast"))
    #expect(!answer.body.contains("late"))
  }

  @Test func f09AStalledStreamEndsAsAnError() async throws {
    let stalling = try FakeBackend(
      Self.stream([Self.chunk("partial")]) { _ in try? await Task.sleep(for: .seconds(5)) })
    let answer = try await gateway([stalling], idle: "300ms").post(
      "/v1beta/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(answer.body.contains("partial"))
    #expect(answer.body.contains("\"code\":504"))
    #expect(!answer.body.hasSuffix("0\r\n\r\n"))
  }

  @Test func f10AMalformedChunkIsAnErrorEvent() async throws {
    let broken = try FakeBackend(
      Self.stream([Self.chunk("fine"), "data: {not json\n\n"]) { responder in try? await responder.finish() })
    let answer = try await gateway([broken]).post("/v1beta/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(answer.body.contains("fine"))
    #expect(answer.body.contains("\"error\""))
    #expect(!answer.body.hasSuffix("0\r\n\r\n"))
  }

  @Test func f11AStreamWithoutFinishOrDoneIsTreatedAsCut() async throws {
    let truncated = try FakeBackend(
      Self.stream([Self.chunk("half")]) { responder in try? await responder.finish() })
    let answer = try await gateway([truncated]).post("/v1beta/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(answer.body.contains("half"))
    #expect(answer.body.contains("\"error\""))
    #expect(!answer.body.contains("\"finishReason\":\"STOP\""))
  }

  @Test func f13AContentFilterIsFinishReasonSafety() async throws {
    let filtered = try FakeBackend(
      FakeBackend.json(
        200,
        #"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}]}"#
      ))
    let answer = try await gateway([filtered]).post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.body.contains("\"finishReason\":\"SAFETY\""))
  }

  @Test func f14AFallbackThatRejectsGivesItsOwnError() async throws {
    let down = try FakeBackend(FakeBackend.json(503, #"{"error":{"message":"overloaded"}}"#))
    let picky = try FakeBackend(
      FakeBackend.json(
        400, #"{"error":{"message":"Unrecognized request argument supplied: seed","type":"invalid_request_error"}}"#))
    let answer = try await gateway([down, picky]).post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    #expect(answer.body.contains("Unrecognized request argument"))
    #expect(answer.head.contains("x-louter-backend: b1"))
  }

  @Test func f16AccountingNamesTheBackendThatServed() async throws {
    let down = try FakeBackend(FakeBackend.json(500, #"{"error":{"message":"boom"}}"#))
    let good = try FakeBackend(FakeBackend.stream(["served"]))
    let answer = try await gateway([down, good]).post("/v1beta/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(answer.head.contains("x-louter-backend: b1"))
    #expect(answer.body.contains("\"totalTokenCount\":6"))
  }
}
