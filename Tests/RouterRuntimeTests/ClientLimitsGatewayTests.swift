import Glibc
import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// louter serving a route file with an injected limiter clock, handing every request record to a stream the
/// test awaits (no sleeps).
struct LimitedGateway: TestServer {
  let server: HTTPServer
  let port: Int
  let records: AsyncStream<RequestRecord>
  let limiter: ClientLimiter
  let gateway: Gateway

  init(_ routes: String, clock: ManualWallClock) throws {
    let (records, continuation) = AsyncStream.makeStream(of: RequestRecord.self)
    self.records = records
    limiter = ClientLimiter(clock: clock.read)
    gateway = Gateway(
      table: try Self.compile(routes), transport: TransportFactory.make, sink: { continuation.yield($0) },
      limiter: limiter)
    server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: gateway)
    port = try server.start()
  }

  func stop() { server.stopNow() }

  static func compile(_ routes: String) throws -> RouteTable {
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array(routes.utf8))
    let (syntax, decoded) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let result = RouteCompiler.compile([syntax], sources: sources, mode: .serve, environment: [:])
    let diagnostics = decoded + result.diagnostics
    guard let table = result.table, !diagnostics.hasErrors else {
      throw GatewayTestError.routes(DiagnosticRenderer(sources: sources).render(diagnostics, format: .short))
    }
    return table
  }

  /// Sends a request with `headers` and reads the whole answer; waits for its record too.
  func post(_ path: String, _ body: String, headers: String) async throws -> (head: String, body: String) {
    let client = try TestClient(port: port)
    client.send(
      "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(headers)Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    )
    let text = String(decoding: await client.readToEnd(), as: UTF8.self)
    _ = await nextRecord()
    guard let split = text.firstRange(of: "\r\n\r\n") else { return (text, "") }
    return (String(text[..<split.lowerBound]), String(text[split.upperBound...]))
  }

  func nextRecord() async -> RequestRecord? {
    var iterator = records.makeAsyncIterator()
    return await iterator.next()
  }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct ClientLimitsGatewayTests {
  static let key = "team-key"
  static let gemini = "x-goog-api-key: \(key)\r\n"
  static let openAI = "Authorization: Bearer \(key)\r\n"
  static let generate = "/v1beta/models/m:generateContent"
  static let streamPath = "/v1beta/models/m:streamGenerateContent?alt=sse"
  static let body = #"{"contents":[{"role":"user","parts":[{"text":"hello there"}]}]}"#

  static func routes(_ limits: String, backend: String = "protocol = \"echo\"") -> String {
    "[clients.team]\nkeys = [\"sha256:\(SHA256.hexDigest(key))\"]\nlimits = { \(limits) }\n"
      + "[backends.demo]\n\(backend)\n[[routes]]\nbackends = [\"demo\"]\n"
  }

  @Test func theRequestAfterTheLimitGetsA429WithRetryInfoInEachFrontsShape() async throws {
    let clock = ManualWallClock(ClientLimiterTests.midnight + 48_000)
    let louter = try LimitedGateway(Self.routes("requests_per_minute = 2"), clock: clock)
    defer { stopAll(louter) }
    for _ in 0..<2 {
      let answer = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
      #expect(answer.head.hasPrefix("HTTP/1.1 200"), "\(answer.head)")
    }
    let refused = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
    #expect(refused.head.hasPrefix("HTTP/1.1 429"), "\(refused.head)")
    #expect(refused.head.lowercased().contains("\r\nretry-after: 12"), "\(refused.head)")
    let error = try JSONParser.parse(Array(refused.body.utf8))["error"]
    #expect(error?["status"]?.stringValue == "RESOURCE_EXHAUSTED")
    #expect(error?["code"]?.intValue == 429)
    let retryInfo = error?["details"]?.arrayValue?.first {
      $0["@type"]?.stringValue == "type.googleapis.com/google.rpc.RetryInfo"
    }
    #expect(retryInfo?["retryDelay"]?.stringValue == "12s", "\(refused.body)")

    // The OpenAI front counts against the same client and answers in OpenAI's shape.
    let openAI = try await louter.post(
      "/v1/chat/completions", #"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#, headers: Self.openAI)
    #expect(openAI.head.hasPrefix("HTTP/1.1 429"), "\(openAI.head)")
    #expect(openAI.head.lowercased().contains("\r\nretry-after: 12"), "\(openAI.head)")
    let openAIError = try JSONParser.parse(Array(openAI.body.utf8))["error"]
    #expect(openAIError?["type"]?.stringValue == "rate_limit_error", "\(openAI.body)")

    clock.advance(by: 12_000)
    let next = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
    #expect(next.head.hasPrefix("HTTP/1.1 200"), "\(next.head)")
  }

  @Test func aReloadKeepsTheCountersAndAppliesTheNewValues() async throws {
    let clock = ManualWallClock(ClientLimiterTests.midnight)
    let louter = try LimitedGateway(Self.routes("requests_per_minute = 1"), clock: clock)
    defer { stopAll(louter) }
    #expect(try await louter.post(Self.generate, Self.body, headers: Self.gemini).head.hasPrefix("HTTP/1.1 200"))
    louter.gateway.reload(try LimitedGateway.compile(Self.routes("requests_per_minute = 1")))
    let refused = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
    #expect(refused.head.hasPrefix("HTTP/1.1 429"), "\(refused.head)")
    louter.gateway.reload(try LimitedGateway.compile(Self.routes("requests_per_minute = 2")))
    let raised = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
    #expect(raised.head.hasPrefix("HTTP/1.1 200"), "\(raised.head)")
    #expect(louter.limiter.usage(client: "team", .requestsPerMinute) == 2)
  }

  @Test func aTokenQuotaCountsTheUsageOfTheRequestRecord() async throws {
    let clock = ManualWallClock(ClientLimiterTests.midnight)
    let louter = try LimitedGateway(Self.routes("input_tokens_per_day = 2"), clock: clock)
    defer { stopAll(louter) }
    let first = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
    #expect(first.head.hasPrefix("HTTP/1.1 200"), "\(first.head)")
    #expect(louter.limiter.usage(client: "team", .inputTokensPerDay) >= 2)
    let refused = try await louter.post(Self.generate, Self.body, headers: Self.gemini)
    #expect(refused.head.hasPrefix("HTTP/1.1 429"), "\(refused.head)")
    #expect(refused.body.contains("input_tokens_per_day = 2"), "\(refused.body)")
  }

  /// The stream slot is given back when the stream ends, also when its client hung up first.
  @Test func aStreamSlotIsGivenBackWhenTheClientGoesAway() async throws {
    let (gate, open) = AsyncStream.makeStream(of: Void.self)
    let backend = try FakeBackend { request, responder in
      try? await responder.startStream(status: 200, headers: [("content-type", "text/event-stream")])
      let chunk =
        #"data: {"id":"c1","object":"chat.completion.chunk","model":"m","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}]}"#
      try? await responder.write(Array("\(chunk)\n\n".utf8))
      // Holds the first stream open until the test has hung up on it.
      for await _ in gate {}
      for _ in 0..<4 { try? await responder.write(Array("\(chunk)\n\n".utf8)) }
      try? await responder.write(Array("data: [DONE]\n\n".utf8))
      try? await responder.finish()
    }
    let clock = ManualWallClock(ClientLimiterTests.midnight)
    let louter = try LimitedGateway(
      Self.routes(
        "concurrent_streams = 1", backend: "protocol = \"openai\"\nurl = \"http://127.0.0.1:\(backend.port)/v1\""),
      clock: clock)
    defer { stopAll(louter, backend) }

    let first = try TestClient(port: louter.port)
    first.send(
      "POST \(Self.streamPath) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\(Self.gemini)Content-Length: \(Self.body.utf8.count)\r\n\r\n\(Self.body)"
    )
    let started = await first.read(until: "hi")
    #expect(started.hasPrefix("HTTP/1.1 200"), "\(started)")
    #expect(louter.limiter.usage(client: "team", .concurrentStreams) == 1)

    let second = try await louter.post(Self.streamPath, Self.body, headers: Self.gemini)
    #expect(second.head.hasPrefix("HTTP/1.1 429"), "\(second.head)")
    #expect(second.body.contains("concurrent_streams = 1"), "\(second.body)")

    Glibc.shutdown(first.fd, Int32(SHUT_RDWR))
    open.finish()
    let gone = await louter.nextRecord()
    #expect(gone?.status == 499)
    #expect(louter.limiter.usage(client: "team", .concurrentStreams) == 0)

    let third = try await louter.post(Self.streamPath, Self.body, headers: Self.gemini)
    #expect(third.head.hasPrefix("HTTP/1.1 200"), "\(third.head)")
  }
}
