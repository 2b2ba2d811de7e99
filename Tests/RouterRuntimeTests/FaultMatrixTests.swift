import Foundation
import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// A clock the test moves by hand, for passive health's cool-down.
final class ManualClock: Sendable {
  private let instant = Mutex(MonotonicInstant.now)

  /// The current instant.
  func now() -> MonotonicInstant { instant.withLock { $0 } }

  /// Moves the clock forward.
  func advance(by duration: Duration) { instant.withLock { $0 = $0.advanced(by: duration) } }
}

/// The upstream fault matrix, numbered after failoverbench's scenario catalogue (S01…S16): each fault
/// is injected by a raw-socket fake backend on 127.0.0.1 and louter's designed answer is asserted.
@Suite(.serialized, .timeLimit(.minutes(1))) struct FaultMatrixTests {
  static let hello = GatewayTests.hello
  static let completion =
    #"{"id":"c1","object":"chat.completion","model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
  static let ok = RawHTTP.response(200, completion)
  static let generate = "/v1beta/models/m:generateContent"
  static let streamGenerate = "/v1beta/models/m:streamGenerateContent?alt=sse"

  /// One OpenAI stream event carrying `content` (or the assistant role when nil), as a chunk.
  static func chunk(_ content: String?, finish: String? = nil) -> String {
    let delta = content.map { #"{"content":"\#($0)"}"# } ?? #"{"role":"assistant"}"#
    let reason = finish.map { "\"\($0)\"" } ?? "null"
    return RawHTTP.chunk(
      #"data: {"id":"c","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(reason)}]}"#
        + "\n\n")
  }

  /// A whole, well-ended stream of `words` with usage and `[DONE]`.
  static func stream(_ words: [String]) -> String {
    RawHTTP.streamHead + words.map { chunk($0) }.joined() + chunk("", finish: "stop")
      + RawHTTP.chunk(
        #"data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}"# + "\n\n")
      + RawHTTP.chunk("data: [DONE]\n\n") + RawHTTP.lastChunk
  }

  /// OpenAI's answer to a prompt longer than the model's context window.
  static let contextLengthRefusal = RawHTTP.response(
    400,
    error(
      "This model's maximum context length is 8192 tokens", type: "invalid_request_error",
      code: "context_length_exceeded"))

  /// An OpenAI error body.
  static func error(_ message: String, type: String, code: String? = nil) -> String {
    let code = code.map { #","code":"\#($0)""# } ?? ""
    return #"{"error":{"message":"\#(message)","type":"\#(type)"\#(code)}}"#
  }

  func gateway(_ backends: [RawFakeBackend], idle: String = "30s", clock: ManualClock? = nil, route: String = "")
    throws -> GatewayUnderTest
  {
    let text = Self.routes(backends, idle: idle, route: route)
    guard let clock else { return try GatewayUnderTest(text) }
    return try GatewayUnderTest(text, clock: { clock.now() })
  }

  /// A route file with one openai backend per fake, all in one chain, and `route` added to the route.
  static func routes(_ backends: [RawFakeBackend], idle: String = "30s", route: String = "") -> String {
    var text = "[server]\nauth = \"none\"\n"
    for (index, backend) in backends.enumerated() {
      text +=
        "[backends.b\(index)]\nprotocol = \"openai\"\nurl = \"http://127.0.0.1:\(backend.port)/v1\"\n"
        + "first_byte_timeout = \"400ms\"\nstream_idle_timeout = \"\(idle)\"\n"
    }
    return text + "[[routes]]\nbackends = [\(backends.indices.map { "\"b\($0)\"" }.joined(separator: ", "))]\n"
      + route
  }

  /// A chunked body's payload.
  static func dechunked(_ body: String) -> String {
    var bytes = Array(body.utf8)[...]
    var out: [UInt8] = []
    while let lineEnd = bytes.firstRange(of: [0x0D, 0x0A]) {
      guard let size = Int(String(decoding: bytes[..<lineEnd.lowerBound], as: UTF8.self), radix: 16), size > 0,
        bytes.count >= lineEnd.upperBound - bytes.startIndex + size
      else { break }
      let start = lineEnd.upperBound
      out += bytes[start..<(start + size)]
      bytes = bytes[(start + size)...].dropFirst(2)
    }
    return String(decoding: out, as: UTF8.self)
  }

  @Test func f01RetryAfter429MovesOnNowOrCarriesTheDelay() async throws {
    let limited = try RawFakeBackend.answering { _ in
      RawHTTP.response(
        429, Self.error("quota", type: "rate_limit_error"),
        headers: ["Retry-After: 7", "Content-Type: application/json"])
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let chain = try gateway([limited, spare])
    let alone = try gateway([limited])
    defer { stopAll(limited, spare, chain, alone) }
    let answer = try await chain.post(Self.generate, Self.hello)
    #expect(answer.head.contains("x-louter-backend: b1"))
    let last = try await alone.post(Self.generate, Self.hello)
    #expect(last.head.hasPrefix("HTTP/1.1 429"))
    #expect(last.body.contains("\"retryDelay\":\"7s\""))
  }

  @Test func f02A429WithoutRetryAfterIsNeverHammeredAndNeverOpensTheCircuit() async throws {
    let limited = try RawFakeBackend.answering { _ in
      RawHTTP.response(429, Self.error("slow down", type: "rate_limit_error"))
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let chain = try gateway([limited, spare])
    let alone = try gateway([limited])
    defer { stopAll(limited, spare, chain, alone) }
    // Four in a row: each asks the limited backend once and moves on at once; a quota is not a fault,
    // so the circuit stays closed and the fourth still asks it.
    for _ in 0..<4 {
      let answer = try await chain.post(Self.generate, Self.hello)
      #expect(answer.head.hasPrefix("HTTP/1.1 200"))
      #expect(answer.head.contains("x-louter-backend: b1"))
    }
    #expect(limited.requestCount == 4)
    let last = try await alone.post(Self.generate, Self.hello)
    #expect(last.head.hasPrefix("HTTP/1.1 429"))
    #expect(last.body.contains("RESOURCE_EXHAUSTED"))
    #expect(!last.body.contains("retryDelay"), "no Retry-After, no invented delay")
    #expect(limited.requestCount == 5, "one attempt per request: no retry loop")
  }

  @Test func f03AOneOff500MovesOnAndTheBackendServesTheNextRequest() async throws {
    let flaky = try RawFakeBackend.answering { number in
      number == 1 ? RawHTTP.response(500, Self.error("boom", type: "server_error")) : Self.ok
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try gateway([flaky, spare])
    defer { stopAll(flaky, spare, louter) }
    let first = try await louter.post(Self.generate, Self.hello)
    #expect(first.head.hasPrefix("HTTP/1.1 200"))
    #expect(first.head.contains("x-louter-backend: b1"))
    let second = try await louter.post(Self.generate, Self.hello)
    #expect(second.head.hasPrefix("HTTP/1.1 200"))
    #expect(second.head.contains("x-louter-backend: b0"), "one failure does not open the circuit")
    #expect(flaky.requestCount == 2 && spare.requestCount == 1)
  }

  @Test func f04A503ThatPersistsWalksTheChainThen503() async throws {
    let down = RawHTTP.response(503, Self.error("overloaded", type: "server_error"))
    let first = try RawFakeBackend.answering { _ in down }
    let second = try RawFakeBackend.answering { _ in down }
    let louter = try gateway([first, second])
    defer { stopAll(first, second, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 503"))
    #expect(answer.body.contains("UNAVAILABLE"))
    #expect(first.requestCount == 1 && second.requestCount == 1)
  }

  @Test func f05AResetBeforeTheAnswerMovesOn() async throws {
    let reset = try RawFakeBackend.answering { _ in nil }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try gateway([reset, spare])
    defer { stopAll(reset, spare, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b1"))
    #expect(reset.requestCount == 1)
  }

  @Test func f06ASilentBackendMeetsTheFirstByteTimeoutIsHungUpOnAndNotRetried() async throws {
    let hungUp = (UpstreamEvent(), UpstreamEvent())
    let silent = try RawFakeBackend { connection in
      connection.readRequest()
      // Never answers: only louter hanging up ends this.
      guard connection.waitForClose() else { return }
      (connection.index == 1 ? hungUp.0 : hungUp.1).fire()
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let chain = try gateway([silent, spare])
    let alone = try gateway([silent])
    defer { stopAll(silent, spare, chain, alone) }
    let answer = try await chain.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b1"))
    // The hang-up comes after the fake read the request, so the count below is settled.
    await hungUp.0.wait()
    #expect(silent.requestCount == 1, "a silent route is not retried")
    let last = try await alone.post(Self.generate, Self.hello)
    #expect(last.head.hasPrefix("HTTP/1.1 504"))
    #expect(last.body.contains("DEADLINE_EXCEEDED"))
    await hungUp.1.wait()
    #expect(silent.requestCount == 2)
  }

  @Test func f07ASlowFirstTokenMovesOnBeforeAnythingIsSent() async throws {
    let slow = try RawFakeBackend { connection in
      connection.readRequest()
      connection.write(RawHTTP.streamHead + Self.chunk(nil))
      // The first token would come only after louter gave up; it hangs up instead.
      connection.waitForClose()
      connection.write(Self.chunk("late"))
    }
    let spare = try RawFakeBackend.answering { _ in Self.stream(["fast"]) }
    let louter = try gateway([slow, spare])
    defer { stopAll(slow, spare, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.head.contains("x-louter-backend: b1"))
    #expect(answer.body.contains("fast"))
    #expect(!answer.body.contains("late"))
  }

  @Test func f08AStreamCutAfterTheFirstBytesEndsWithAnInBandErrorWhenTheRouteDoesNotContinue() async throws {
    let delivered = UpstreamGate()
    let cut = try RawFakeBackend { connection in
      connection.readRequest()
      connection.write(RawHTTP.streamHead + Self.chunk(nil) + Self.chunk("partial"))
      // Cut only once the client holds the first words: from then on no fallback may restart it.
      delivered.wait()
      connection.write(Self.chunk(" answer"))
    }
    let spare = try RawFakeBackend.answering { _ in Self.stream(["spare"]) }
    let louter = try gateway([cut, spare], route: "continue_on_break = false\n")
    defer { stopAll(cut, spare, louter) }
    let client = try TestClient(port: louter.port)
    client.send(
      "POST \(Self.streamGenerate) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(Self.hello.utf8.count)\r\nConnection: close\r\n\r\n\(Self.hello)")
    let head = await client.read(until: "partial")
    #expect(head.contains("x-louter-backend: b0"))
    delivered.open()
    let rest = String(decoding: await client.readToEnd(), as: UTF8.self)
    #expect(rest.contains("\"error\""))
    #expect(!rest.contains("\"finishReason\":\"STOP\""))
    #expect(!rest.hasSuffix("0\r\n\r\n"), "a cut stream must not end like a complete one")
    #expect(spare.requestCount == 0, "never fall back after the first byte reached the client")
  }

  /// A backend whose stream answers `words` and that keeps every request it read, for the prefill.
  static func recording(_ words: [String]) throws -> (RawFakeBackend, SeenRequests) {
    let seen = SeenRequests()
    let backend = try RawFakeBackend { connection in
      while let request = connection.readRequest() {
        seen.requests.withLock { $0.append(request) }
        guard connection.write(Self.stream(words)) else { return }
      }
    }
    return (backend, seen)
  }

  /// A stream that writes `partial` and then, as `cut` says, breaks: the connection closes mid-stream.
  static func breaking(after words: [String]) throws -> RawFakeBackend {
    try RawFakeBackend { connection in
      connection.readRequest()
      connection.write(RawHTTP.streamHead + Self.chunk(nil) + words.map { Self.chunk($0) }.joined())
    }
  }

  @Test(arguments: [true, false])
  func f08AStreamCutMidAnswerIsContinuedByTheNextBackendInTheSameResponse(sse: Bool) async throws {
    let cut = try Self.breaking(after: ["The answer", " is"])
    let (spare, seen) = try Self.recording([" forty", "-two."])
    let louter = try RecordingGateway(Self.routes([cut, spare]))
    defer {
      stopAll(cut, spare)
      louter.server.stopNow()
    }
    let path = sse ? Self.streamGenerate : "/v1beta/models/m:streamGenerateContent"
    let answer = try await louter.post(path, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b0"), "the head was the first backend's")
    // The next backend was asked to go on from the text the client already has, as an assistant prefill.
    let request = seen.requests.withLock { $0.first } ?? ""
    #expect(request.contains(#"{"role":"assistant","content":"The answer is"}"#), "\(request)")
    let text = Self.streamedText(answer.body, sse: sse)
    #expect(text == "The answer is forty-two.", "no repeated text: \(answer.body)")
    #expect(!answer.body.contains("\"error\""))
    #expect(answer.body.contains("\"finishReason\":\"STOP\""))
    // One final usage for the whole answer: the spare's 2 output tokens plus the first part's, estimated.
    #expect(answer.body.contains("\"candidatesTokenCount\":6"), "\(answer.body)")
    let record = try #require(answer.record)
    #expect(record.hops.map(\.backend) == ["b0", "b1"])
    #expect(record.status == 200)
  }

  @Test func f14AFallbackThatRefusesThePrefillEndsWithTheOriginalBreak() async throws {
    let cut = try Self.breaking(after: ["partial"])
    let picky = try RawFakeBackend.answering { _ in
      RawHTTP.response(
        400, Self.error("Assistant prefill is not supported", type: "invalid_request_error"))
    }
    let louter = try gateway([cut, picky])
    defer { stopAll(cut, picky, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.body.contains("partial"))
    #expect(answer.body.contains("broke off the stream"), "the break is the error the client reads")
    #expect(answer.body.contains("Assistant prefill is not supported"), "the refusal is named after it")
    #expect(!answer.body.hasSuffix("0\r\n\r\n"), "a broken answer must not end like a complete one")
    #expect(picky.requestCount == 1)
  }

  @Test func jsonModeStreamsAreNotContinued() async throws {
    let cut = try Self.breaking(after: ["{\\\"a\\\":"])
    let spare = try RawFakeBackend.answering { _ in Self.stream(["spare"]) }
    let louter = try gateway([cut, spare])
    defer { stopAll(cut, spare, louter) }
    let json =
      #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"responseMimeType":"application/json"}}"#
    let answer = try await louter.post(Self.streamGenerate, json)
    #expect(answer.body.contains("\"error\""))
    #expect(spare.requestCount == 0, "a half JSON document is not handed to another model")
  }

  /// The text of every streamed answer, in order, from SSE events or one JSON array.
  static func streamedText(_ body: String, sse: Bool) -> String {
    let payloads: [String]
    if sse {
      payloads = body.split(whereSeparator: \.isNewline).filter { $0.hasPrefix("data: ") }.map {
        String($0.dropFirst(6))
      }
    } else {
      // The whole body (chunked framing removed by the test client) is one JSON array.
      guard let array = try? JSONParser.parse(Array(Self.dechunked(body).utf8)), let list = array.arrayValue else {
        return "<not one JSON array: \(body)>"
      }
      payloads = list.map { String(decoding: $0.serializedBytes(), as: UTF8.self) }
    }
    var text = ""
    for payload in payloads {
      guard let event = try? JSONParser.parse(Array(payload.utf8)) else { continue }
      for part in event["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue ?? [] {
        text += part["text"]?.stringValue ?? ""
      }
    }
    return text
  }

  @Test func f09AStalledStreamEndsAsAnError() async throws {
    let stalling = try RawFakeBackend { connection in
      connection.readRequest()
      connection.write(RawHTTP.streamHead + Self.chunk("partial"))
      connection.waitForClose()
    }
    let louter = try gateway([stalling], idle: "300ms")
    defer { stopAll(stalling, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.body.contains("partial"))
    #expect(answer.body.contains("\"code\":504"))
    #expect(!answer.body.hasSuffix("0\r\n\r\n"))
  }

  @Test func f10AMalformedChunkIsAnErrorEvent() async throws {
    let broken = try RawFakeBackend.answering { _ in
      RawHTTP.streamHead + Self.chunk("fine") + RawHTTP.chunk("data: {not json\n\n") + RawHTTP.lastChunk
    }
    let louter = try gateway([broken])
    defer { stopAll(broken, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.body.contains("fine"))
    #expect(answer.body.contains("\"error\""))
    #expect(!answer.body.hasSuffix("0\r\n\r\n"))
  }

  @Test func f11AStreamWithoutFinishOrDoneIsTreatedAsCut() async throws {
    let truncated = try RawFakeBackend.answering { _ in
      RawHTTP.streamHead + Self.chunk("half") + RawHTTP.lastChunk
    }
    let louter = try gateway([truncated])
    defer { stopAll(truncated, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.body.contains("half"))
    #expect(answer.body.contains("\"error\""))
    #expect(!answer.body.contains("\"finishReason\":\"STOP\""))
  }

  @Test func f12AContextLengthErrorIsTheCallersOwnAndIsNotRetriedOrMovedOn() async throws {
    let rejecting = try RawFakeBackend.answering { _ in Self.contextLengthRefusal }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try gateway([rejecting, spare])
    defer { stopAll(rejecting, spare, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    #expect(answer.head.contains("x-louter-backend: b0"))
    #expect(answer.body.contains("INVALID_ARGUMENT"))
    #expect(answer.body.contains("maximum context length"))
    #expect(rejecting.requestCount == 1, "the same model is not asked again")
    #expect(spare.requestCount == 0)
  }

  // MARK: retries and opt-ins (issue 10 items 1 and 4)

  @Test func f01RetryHonoursARetryAfterThatFitsTheBudgetOnTheSameBackend() async throws {
    let limited = try RawFakeBackend.answering { number in
      number == 1
        ? RawHTTP.response(
          429, Self.error("quota", type: "rate_limit_error"),
          headers: ["retry-after-ms: 5", "Content-Type: application/json"])
        : Self.ok
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try gateway([limited, spare], route: "retry = { attempts = 1 }\n")
    defer { stopAll(limited, spare, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b0"), "the backend said when to come back, and it fits")
    #expect(limited.requestCount == 2 && spare.requestCount == 0)
  }

  @Test func f01ARetryAfterBeyondMaxWaitOrTheClientsDeadlineMovesOnAtOnce() async throws {
    let limited = try RawFakeBackend.answering { _ in
      RawHTTP.response(
        429, Self.error("quota", type: "rate_limit_error"),
        headers: ["Retry-After: 3", "Content-Type: application/json"])
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let short = try gateway([limited, spare], route: "retry = { attempts = 1, max_wait = \"2s\" }\n")
    let long = try gateway([limited, spare], route: "retry = { attempts = 1, max_wait = \"10s\" }\n")
    defer { stopAll(limited, spare, short, long) }
    let beyondBudget = try await short.post(Self.generate, Self.hello)
    #expect(beyondBudget.head.contains("x-louter-backend: b1"))
    #expect(limited.requestCount == 1 && spare.requestCount == 1)
    // The budget would allow 3 s, but the client said it waits 2 s in all (google-genai's header).
    let beyondDeadline = try await long.post(Self.generate, Self.hello, headers: "X-Server-Timeout: 2\r\n")
    #expect(beyondDeadline.head.contains("x-louter-backend: b1"))
    #expect(limited.requestCount == 2 && spare.requestCount == 2)
  }

  @Test func aClientThatLeavesDuringARetryWaitEndsItAndNothingMoreIsAsked() async throws {
    let answered = UpstreamEvent()
    let limited = try RawFakeBackend { connection in
      while connection.readRequest() != nil {
        connection.write(
          RawHTTP.response(
            429, Self.error("quota", type: "rate_limit_error"),
            headers: ["Retry-After: 3", "Content-Type: application/json"]))
        answered.fire()
      }
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try RecordingGateway(
      Self.routes([limited, spare], route: "retry = { attempts = 1, max_wait = \"10s\" }\n"))
    defer {
      stopAll(limited, spare)
      louter.server.stopNow()
    }
    let client = try TestClient(port: louter.port)
    client.send(
      "POST \(Self.generate) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + "Content-Length: \(Self.hello.utf8.count)\r\n\r\n\(Self.hello)")
    // Gone once the backend has answered its 429: louter is then waiting the 3 s out.
    await answered.wait()
    client.close()
    var records = louter.records.makeAsyncIterator()
    let record = await records.next()
    #expect(record?.status == 499, "the wait ends with the client, not after 3 s and a retry")
    #expect(limited.requestCount == 1 && spare.requestCount == 0)
  }

  @Test func f03AOneOff500IsRetriedOnTheSameBackendWhenTheRouteAsks() async throws {
    let flaky = try RawFakeBackend.answering { number in
      number == 1 ? RawHTTP.response(500, Self.error("boom", type: "server_error")) : Self.ok
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try gateway([flaky, spare], route: "retry = { attempts = 1, backoff = \"1ms\" }\n")
    defer { stopAll(flaky, spare, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b0"))
    #expect(flaky.requestCount == 2 && spare.requestCount == 0)
  }

  @Test func f04RetriesAreBoundedThenTheChainMovesOnAndA429WithoutADateIsNotRetried() async throws {
    let down = try RawFakeBackend.answering { _ in RawHTTP.response(503, Self.error("down", type: "server_error")) }
    let limited = try RawFakeBackend.answering { _ in
      RawHTTP.response(429, Self.error("slow down", type: "rate_limit_error"))
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let louter = try gateway([down, limited, spare], route: "retry = { attempts = 2, backoff = \"1ms\" }\n")
    defer { stopAll(down, limited, spare, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.contains("x-louter-backend: b2"))
    #expect(down.requestCount == 3, "one try and two retries, no more")
    #expect(limited.requestCount == 1, "a 429 that does not say when is not retried")
  }

  @Test func aGroupWhoseMembersAllFailFallsToTheNextStepAfterAskingEachOnce() async throws {
    let down = RawHTTP.response(503, Self.error("down", type: "server_error"))
    let first = try RawFakeBackend.answering { _ in down }
    let second = try RawFakeBackend.answering { _ in down }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let text = Self.routes([first, second, spare]).replacingOccurrences(
      of: "backends = [\"b0\", \"b1\", \"b2\"]",
      with: "backends = [{ balance = \"weighted\", members = { b0 = 5, b1 = 1 } }, \"b2\"]")
    let louter = try GatewayUnderTest(text)
    defer { stopAll(first, second, spare, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.contains("x-louter-backend: b2"))
    #expect(first.requestCount == 1 && second.requestCount == 1, "each member once, in either order")
  }

  @Test func f12AContextLengthErrorGoesToTheNextBackendWhenTheRouteOptsIn() async throws {
    let rejecting = try RawFakeBackend.answering { _ in Self.contextLengthRefusal }
    let geminiRejecting = try RawFakeBackend.answering { _ in
      RawHTTP.response(
        400,
        #"{"error":{"code":400,"message":"The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).","status":"INVALID_ARGUMENT"}}"#
      )
    }
    let spare = try RawFakeBackend.answering { _ in Self.ok }
    let optIn = "fallback_on = [\"5xx\", \"context_length\"]\nretry = { attempts = 1, backoff = \"1ms\" }\n"
    let louter = try gateway([rejecting, geminiRejecting, spare], route: optIn)
    defer { stopAll(rejecting, geminiRejecting, spare, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: b2"))
    #expect(rejecting.requestCount == 1 && geminiRejecting.requestCount == 1, "a context refusal is never retried")
  }

  @Test func f13AContentFilterIsFinishReasonSafety() async throws {
    let filtered = try RawFakeBackend.answering { _ in
      RawHTTP.response(
        200,
        #"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"content_filter"}]}"#
      )
    }
    let louter = try gateway([filtered])
    defer { stopAll(filtered, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.body.contains("\"finishReason\":\"SAFETY\""))
  }

  @Test func f14AFallbackThatRejectsGivesItsOwnError() async throws {
    let down = try RawFakeBackend.answering { _ in
      RawHTTP.response(503, Self.error("overloaded", type: "server_error"))
    }
    let picky = try RawFakeBackend.answering { _ in
      RawHTTP.response(
        400, Self.error("Unrecognized request argument supplied: seed", type: "invalid_request_error"))
    }
    let louter = try gateway([down, picky])
    defer { stopAll(down, picky, louter) }
    let answer = try await louter.post(Self.generate, Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    #expect(answer.body.contains("Unrecognized request argument"))
    #expect(answer.head.contains("x-louter-backend: b1"))
  }

  @Test func f15AFlappingPrimaryIsSkippedWhileDownThenProbedAndServesAgain() async throws {
    let recovered = Atomic<Bool>(false)
    let primary = try RawFakeBackend.answering { _ in
      recovered.load(ordering: .acquiring)
        ? Self.stream(["primary"]) : RawHTTP.response(503, Self.error("overloaded", type: "server_error"))
    }
    let spare = try RawFakeBackend.answering { _ in Self.stream(["spare"]) }
    let clock = ManualClock()
    let louter = try gateway([primary, spare], clock: clock)
    defer { stopAll(primary, spare, louter) }
    func servedBy() async throws -> String {
      let answer = try await louter.post(Self.streamGenerate, Self.hello)
      #expect(answer.head.hasPrefix("HTTP/1.1 200"))
      return answer.head.contains("x-louter-backend: b0") ? "b0" : "b1"
    }
    // Down: three failures in a row open the circuit; every request is still served, by the spare.
    for _ in 0..<3 { #expect(try await servedBy() == "b1") }
    #expect(primary.requestCount == 3)
    #expect(try await servedBy() == "b1")
    #expect(primary.requestCount == 3, "an open circuit is skipped, not asked")
    // Healthy again, but the cool-down has not passed: still skipped.
    recovered.store(true, ordering: .releasing)
    clock.advance(by: .seconds(5))
    #expect(try await servedBy() == "b1")
    #expect(primary.requestCount == 3)
    // After the cool-down one probe goes through, succeeds, and closes the circuit.
    clock.advance(by: .seconds(6))
    #expect(try await servedBy() == "b0")
    #expect(try await servedBy() == "b0")
    #expect(primary.requestCount == 5)
    #expect(spare.requestCount == 5)
  }

  @Test func f16AccountingNamesTheBackendThatServed() async throws {
    let down = try RawFakeBackend.answering { _ in RawHTTP.response(500, Self.error("boom", type: "server_error")) }
    let good = try RawFakeBackend.answering { _ in Self.stream(["served"]) }
    let louter = try gateway([down, good])
    defer { stopAll(down, good, louter) }
    let answer = try await louter.post(Self.streamGenerate, Self.hello)
    #expect(answer.head.contains("x-louter-backend: b1"))
    #expect(answer.body.contains("\"totalTokenCount\":6"))
    #expect(down.requestCount == 1 && good.requestCount == 1)
  }
}

/// Requests a fake backend read, in order, for a test to look at.
final class SeenRequests: Sendable {
  let requests = Mutex<[String]>([])
}
