import Foundation
import RouteCompiler
import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// What a fake upstream saw.
final class Recorder: Sendable {
  struct State {
    var count = 0
    var body: [UInt8] = []
    var target = ""
    var headers = HTTPHeaders()
  }

  let state = Mutex(State())
}

/// A fake upstream on 127.0.0.1 built on our own server, recording the requests it gets.
final class FakeBackend: TestServer, Sendable {
  let server: HTTPServer
  let port: Int
  let recorder: Recorder

  init(_ answer: @escaping @Sendable (HTTPRequest, HTTPResponder) async -> Void) throws {
    let recorder = Recorder()
    self.recorder = recorder
    server = HTTPServer(
      configuration: HTTPServerConfiguration(port: 0),
      handler: ClosureHandler { request, responder in
        recorder.state.withLock { state in
          state.count += 1
          state.body = request.body
          state.target = request.target
          state.headers = request.headers
        }
        await answer(request, responder)
      })
    port = try server.start()
  }

  /// Stops the server: its loop closes every connection and ends.
  func stop() { server.stopNow() }

  var requestCount: Int { recorder.state.withLock { $0.count } }
  var receivedBody: [UInt8] { recorder.state.withLock { $0.body } }
  var receivedTarget: String { recorder.state.withLock { $0.target } }
  var receivedHeaders: HTTPHeaders { recorder.state.withLock { $0.headers } }

  static func json(_ status: Int, _ text: String) -> @Sendable (HTTPRequest, HTTPResponder) async -> Void {
    { _, responder in
      try? await responder.respond(
        status: status, headers: [("content-type", "application/json")], body: Array(text.utf8))
    }
  }

  static let completion = json(
    200,
    #"{"id":"c1","object":"chat.completion","model":"gpt-x","choices":[{"index":0,"message":{"role":"assistant","content":"hi there"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}"#
  )

  static func stream(_ words: [String], cutAfter: Int? = nil) -> @Sendable (HTTPRequest, HTTPResponder) async -> Void {
    { _, responder in
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      for (index, word) in words.enumerated() {
        if let cutAfter, index == cutAfter {
          responder.abort()
          return
        }
        let chunk =
          #"{"id":"c1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{"content":"\#(word)"},"finish_reason":null}]}"#
        try? await responder.write(Array("data: \(chunk)\n\n".utf8))
      }
      try? await responder.write(
        Array(
          #"data: {"id":"c1","object":"chat.completion.chunk","model":"gpt-x","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#
            .utf8) + Array("\n\n".utf8))
      try? await responder.write(
        Array(#"data: {"choices":[],"usage":{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}"#.utf8)
          + Array("\n\ndata: [DONE]\n\n".utf8))
      try? await responder.finish()
    }
  }
}

/// louter itself, on 127.0.0.1, serving a route file.
struct GatewayUnderTest: TestServer {
  let server: HTTPServer
  let port: Int

  /// Serves `routes`; `clock` times passive health.
  init(_ routes: String, clock: @escaping @Sendable () -> MonotonicInstant = { .now }) throws {
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array(routes.utf8))
    let tree = try TOMLParser.parse(file)
    let (syntax, decoded) = RouteFileDecoder.decode(tree, file: file)
    let result = RouteCompiler.compile(
      [syntax], sources: sources, mode: .serve, environment: ["TEST_KEY": "upstream-key"])
    let diagnostics = decoded + result.diagnostics
    guard let table = result.table, !diagnostics.hasErrors else {
      throw GatewayTestError.routes(DiagnosticRenderer(sources: sources).render(diagnostics, format: .short))
    }
    let gateway = Gateway(table: table, transport: TransportFactory.make, sink: { _ in }, clock: clock)
    server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: gateway)
    port = try server.start()
  }

  /// Stops the server: its loop closes every connection and ends.
  func stop() { server.stopNow() }

  func post(_ path: String, _ body: String, headers: String = "") async throws -> (head: String, body: String) {
    let client = try TestClient(port: port)
    client.send(
      "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(headers)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    )
    let text = String(decoding: await client.readToEnd(), as: UTF8.self)
    guard let split = text.firstRange(of: "\r\n\r\n") else { return (text, "") }
    return (String(text[..<split.lowerBound]), String(text[split.upperBound...]))
  }

  func get(_ path: String, headers: String = "") async throws -> (head: String, body: String) {
    let client = try TestClient(port: port)
    client.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Connection: close\r\n\r\n")
    let text = String(decoding: await client.readToEnd(), as: UTF8.self)
    guard let split = text.firstRange(of: "\r\n\r\n") else { return (text, "") }
    return (String(text[..<split.lowerBound]), String(text[split.upperBound...]))
  }
}

/// Suspends until the calling task is cancelled: a fake that stalls until louter hangs up or the test ends.
func untilCancelled() async {
  let (stream, continuation) = AsyncStream<Void>.makeStream()
  await withTaskCancellationHandler {
    for await _ in stream {}
  } onCancel: {
    continuation.finish()
  }
}

enum GatewayTestError: Error {
  case routes(String)
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct GatewayTests {
  static let hello = #"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#

  func routes(_ backends: [(String, Int)], extra: String = "", chain: [String]? = nil) -> String {
    var text = "[server]\nauth = \"none\"\n"
    for (name, port) in backends {
      text +=
        "[backends.\(name)]\nprotocol = \"openai\"\nurl = \"http://127.0.0.1:\(port)/v1\"\nfirst_byte_timeout = \"500ms\"\n"
    }
    text += extra
    let names = (chain ?? backends.map(\.0)).map { "\"\($0)\"" }.joined(separator: ", ")
    text += "[[routes]]\nname = \"main\"\nbackends = [\(names)]\n"
    return text
  }

  @Test func translatesAGenerateCallAndNamesTheBackend() async throws {
    let backend = try FakeBackend(FakeBackend.completion)
    let louter = try GatewayUnderTest(routes([("primary", backend.port)]))
    defer { stopAll(backend, louter) }
    let answer = try await louter.post("/v1beta/models/gemini-2.5-flash:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: primary"))
    #expect(answer.head.contains("x-louter-route: main"))
    #expect(answer.head.contains("x-request-id: "))
    let json = try JSONParser.parse(answer.body)
    #expect(json["candidates"]?.arrayValue?.first?["content"]?["parts"]?.arrayValue?.first?["text"] == "hi there")
    #expect(json["usageMetadata"]?["totalTokenCount"] == 5)
    let sent = try JSONParser.parse(backend.receivedBody)
    #expect(sent["model"] == "gemini-2.5-flash")
    #expect(backend.receivedTarget == "/v1/chat/completions")
  }

  @Test func streamsServerSentEventsInOrderWithUsageLast() async throws {
    let backend = try FakeBackend(FakeBackend.stream(["one", " two", " three"]))
    let louter = try GatewayUnderTest(routes([("primary", backend.port)]))
    defer { stopAll(backend, louter) }
    let answer = try await louter.post("/v1/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(answer.head.contains("content-type: text/event-stream"))
    let events = answer.body.split(separator: "\r\n\r\n").filter { $0.contains("data: ") }
    #expect(events.count >= 4)
    #expect(answer.body.contains("\"text\":\"one\""))
    let one = answer.body.firstRange(of: "\"one\"")?.lowerBound
    let three = answer.body.firstRange(of: "\" three\"")?.lowerBound
    #expect(one != nil && three != nil && one! < three!)
    #expect(answer.body.contains("\"finishReason\":\"STOP\""))
    #expect(answer.body.contains("\"totalTokenCount\":6"))
    #expect(!answer.body.contains(": keepalive"))
  }

  @Test func streamsAJSONArrayWithoutAlt() async throws {
    let backend = try FakeBackend(FakeBackend.stream(["a", "b"]))
    let louter = try GatewayUnderTest(routes([("primary", backend.port)]))
    defer { stopAll(backend, louter) }
    let answer = try await louter.post("/v1beta/models/m:streamGenerateContent", Self.hello)
    let body = answer.body.split(separator: "\r\n").filter { !$0.allSatisfy(\.isHexDigit) }.joined(separator: "\r\n")
    #expect(body.hasPrefix("["))
    #expect(body.hasSuffix("]"))
  }

  @Test func fallsBackOn5xxAndTimeoutButNotAfterTheFirstByte() async throws {
    let failing = try FakeBackend(FakeBackend.json(500, #"{"error":{"message":"boom","type":"server_error"}}"#))
    let slow = try FakeBackend { _, responder in
      // Never answers in time: louter hanging up on it cancels this handler.
      await untilCancelled()
      try? await responder.respond(status: 200, headers: [], body: [])
    }
    let good = try FakeBackend(FakeBackend.completion)
    let louter = try GatewayUnderTest(routes([("failing", failing.port), ("slow", slow.port), ("good", good.port)]))
    defer { stopAll(failing, slow, good, louter) }
    let answer = try await louter.post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-backend: good"))
    #expect(failing.requestCount == 1 && slow.requestCount == 1 && good.requestCount == 1)

    let cut = try FakeBackend(FakeBackend.stream(["partial", " answer"], cutAfter: 1))
    let spare = try FakeBackend(FakeBackend.stream(["spare"]))
    // With continuation off; FaultMatrixTests covers continuing a cut stream.
    let second = try GatewayUnderTest(
      routes([("cut", cut.port), ("spare", spare.port)]) + "continue_on_break = false\n")
    defer { stopAll(cut, spare, second) }
    let streamed = try await second.post("/v1beta/models/m:streamGenerateContent?alt=sse", Self.hello)
    #expect(streamed.body.contains("partial"))
    #expect(streamed.body.contains("\"error\""))
    #expect(!streamed.body.hasSuffix("0\r\n\r\n"), "a cut stream must not end like a complete one")
    #expect(spare.requestCount == 0, "never fall back after the first byte reached the client")
  }

  @Test func everyBackendFailingGivesTheMostTellingErrorNamingEach() async throws {
    let limited = try FakeBackend(FakeBackend.json(429, #"{"error":{"message":"slow down","type":"rate_limit"}}"#))
    let alsoLimited = try FakeBackend(FakeBackend.json(429, #"{"error":{"message":"later","type":"rate_limit"}}"#))
    let louter = try GatewayUnderTest(routes([("a", limited.port), ("b", alsoLimited.port)]))
    defer { stopAll(limited, alsoLimited, louter) }
    let answer = try await louter.post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 429"))
    let json = try JSONParser.parse(answer.body)
    #expect(json["error"]?["status"] == "RESOURCE_EXHAUSTED")
    let message = json["error"]?["message"]?.stringValue ?? ""
    #expect(message.contains("a:") && message.contains("b:"))
  }

  @Test func aClientErrorIsNotRetriedElsewhere() async throws {
    let rejecting = try FakeBackend(
      FakeBackend.json(
        400, #"{"error":{"message":"maximum context length exceeded","code":"context_length_exceeded"}}"#))
    let spare = try FakeBackend(FakeBackend.completion)
    let louter = try GatewayUnderTest(routes([("a", rejecting.port), ("b", spare.port)]))
    defer { stopAll(rejecting, spare, louter) }
    let answer = try await louter.post("/v1beta/models/m:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    #expect(answer.body.contains("INVALID_ARGUMENT"))
    #expect(spare.requestCount == 0)
  }

  @Test func frontErrorsUseTheGeminiShape() async throws {
    let backend = try FakeBackend(FakeBackend.completion)
    let text =
      "[backends.a]\nprotocol = \"openai\"\nurl = \"http://127.0.0.1:\(backend.port)/v1\"\n"
      + "[clients.team]\nkeys = [\"sha256:\(SHA256.hexDigest("good-key"))\"]\n"
      + "[[routes]]\nmatch = { model = \"secret*\" }\ndeny = \"reserved\"\n"
      + "[[routes]]\nmatch = { client = \"team\", model = \"m\" }\nbackends = [\"a\"]\n"
    let louter = try GatewayUnderTest(text)
    defer { stopAll(backend, louter) }
    let path = "/v1beta/models/m:generateContent"
    #expect(try await louter.post(path, Self.hello).head.hasPrefix("HTTP/1.1 403"))
    #expect(
      try await louter.post(path, Self.hello, headers: "x-goog-api-key: wrong\r\n").head.hasPrefix("HTTP/1.1 400"))
    #expect(
      try await louter.post(path, Self.hello, headers: "x-goog-api-key: good-key\r\n").head.hasPrefix("HTTP/1.1 200"))
    #expect(try await louter.post(path + "?key=good-key", Self.hello).head.hasPrefix("HTTP/1.1 200"))
    #expect(
      try await louter.post(path, Self.hello, headers: "Authorization: Bearer good-key\r\n").head.hasPrefix(
        "HTTP/1.1 200"))
    let denied = try await louter.post(
      "/v1beta/models/secret-1:generateContent", Self.hello, headers: "x-goog-api-key: good-key\r\n")
    #expect(denied.head.hasPrefix("HTTP/1.1 403"))
    #expect(denied.body.contains("\"message\":\"reserved\""))
    let noRoute = try await louter.post(
      "/v1beta/models/other:generateContent", Self.hello, headers: "x-goog-api-key: good-key\r\n")
    #expect(noRoute.head.hasPrefix("HTTP/1.1 404"))
    let badJSON = try await louter.post(path, "{nope", headers: "x-goog-api-key: good-key\r\n")
    #expect(badJSON.head.hasPrefix("HTTP/1.1 400"))
    #expect(badJSON.body.contains("\"status\":\"INVALID_ARGUMENT\""))
    let models = try await louter.get("/v1beta/models", headers: "x-goog-api-key: good-key\r\n")
    #expect(models.body.contains("\"name\":\"models/m\""))
  }

  @Test func passthroughKeepsTheClientsBytesAndRewritesOnlyWhatActionsChange() async throws {
    let gemini = try FakeBackend(
      FakeBackend.json(
        200, #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}]}"#))
    let text =
      "[server]\nauth = \"none\"\n[backends.g]\nprotocol = \"gemini\"\nurl = \"http://127.0.0.1:\(gemini.port)\"\n"
      + "api_key = \"${TEST_KEY}\"\n[[routes]]\nmodel = \"gemini-real\"\nsystem_prompt = { prepend = \"Be kind.\" }\nbackends = [\"g\"]\n"
    let louter = try GatewayUnderTest(text)
    defer { stopAll(gemini, louter) }
    let body =
      #"{"contents":[{"role":"user","parts":[{"text":"hi","thoughtSignature":"c2ln"}]}],"futureField":{"x":1}}"#
    let answer = try await louter.post("/v1beta/models/alias:generateContent?key=client-key", body)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(gemini.receivedTarget == "/v1beta/models/gemini-real:generateContent")
    #expect(gemini.receivedHeaders["x-goog-api-key"] == "upstream-key")
    let sent = String(decoding: gemini.receivedBody, as: UTF8.self)
    #expect(
      sent.hasPrefix(
        #"{"contents":[{"role":"user","parts":[{"text":"hi","thoughtSignature":"c2ln"}]}],"futureField":{"x":1}"#))
    #expect(sent.contains(#""systemInstruction":{"parts":[{"text":"Be kind."}]}"#))
  }

  @Test func aClientThatDisconnectsCancelsTheUpstreamCall() async throws {
    let upstreamClosed = Latch()
    let backend = try FakeBackend { _, responder in
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      let chunk = #"data: {"choices":[{"index":0,"delta":{"content":"tick "},"finish_reason":null}]}"# + "\n\n"
      try? await responder.write(Array(chunk.utf8))
      // A stream that never ends by itself: only louter hanging up on it (which cancels this handler)
      // ends it, and the idle timeout below is far beyond the suite's time limit.
      await untilCancelled()
      upstreamClosed.open()
    }
    let louter = try GatewayUnderTest(
      routes([("endless", backend.port)], extra: "stream_idle_timeout = \"3600s\"\n"))
    defer { stopAll(backend, louter) }
    let client = try TestClient(port: louter.port)
    let body = Self.hello
    client.send(
      "POST /v1beta/models/m:streamGenerateContent?alt=sse HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    )
    _ = await client.read(until: "tick")
    client.close()
    await upstreamClosed.wait()
  }

  @Test func malformedRequestsGetA400AndNeverACrash() async throws {
    let backend = try FakeBackend(FakeBackend.completion)
    let louter = try GatewayUnderTest(routes([("primary", backend.port)]))
    defer { stopAll(backend, louter) }
    let deep = String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000)
    let bodies = [
      "", "null", "[]", "\"text\"", "{", deep, #"{"contents":"hello"}"#, #"{"contents":[]}"#,
      #"{"contents":[{"parts":[{"inlineData":{"mimeType":"image/png","data":"%%%"}}]}]}"#,
      #"{"contents":[{"parts":[{"text":5}]}]}"#, #"{"contents":[{"role":"user","parts":[{"functionResponse":{}}]}]}"#,
      #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"temperature":"hot"}}"#,
      #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"googleSearch":{}}]}"#,
    ]
    for body in bodies {
      let answer = try await louter.post("/v1beta/models/m:generateContent", body)
      #expect(answer.head.hasPrefix("HTTP/1.1 400"), "\(body.prefix(60)): \(answer.head.prefix(40))")
      #expect(answer.body.contains("\"status\":\"INVALID_ARGUMENT\""), "\(body.prefix(60))")
    }
    #expect(backend.requestCount == 0, "nothing malformed reaches a backend")
    let healthy = try await louter.post("/v1beta/models/m:generateContent", Self.hello)
    #expect(healthy.head.hasPrefix("HTTP/1.1 200"))
  }
}
