import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// louter serving a route file, handing every request record to a stream the test awaits (no sleeps).
struct RecordingGateway {
  let server: HTTPServer
  let port: Int
  let records: AsyncStream<RequestRecord>

  init(_ routes: String) throws {
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array(routes.utf8))
    let (syntax, decoded) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let result = RouteCompiler.compile(
      [syntax], sources: sources, mode: .serve, environment: ["TEST_KEY": "upstream-key"])
    guard let table = result.table, !(decoded + result.diagnostics).hasErrors else {
      throw GatewayTestError.routes("routes do not compile")
    }
    let (records, continuation) = AsyncStream.makeStream(of: RequestRecord.self)
    self.records = records
    let gateway = Gateway(table: table, transport: TransportFactory.make, sink: { continuation.yield($0) })
    server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: gateway)
    port = try server.start()
  }

  /// Posts and returns the answer and the request's record.
  func post(_ path: String, _ body: String) async throws -> (head: String, body: String, record: RequestRecord?) {
    let client = try TestClient(port: port)
    client.send(
      "POST \(path) HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
    )
    let text = String(decoding: await client.readToEnd(), as: UTF8.self)
    var iterator = records.makeAsyncIterator()
    let record = await iterator.next()
    guard let split = text.firstRange(of: "\r\n\r\n") else { return (text, "", record) }
    return (String(text[..<split.lowerBound]), String(text[split.upperBound...]), record)
  }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct GeminiFidelityGatewayTests {
  func stop(_ servers: HTTPServer...) async {
    for server in servers { await server.shutdown(gracePeriod: .zero) }
  }

  static func openAIRoutes(_ port: Int) -> String {
    "[server]\nauth = \"none\"\n[backends.a]\nprotocol = \"openai\"\nurl = \"http://127.0.0.1:\(port)/v1\"\n"
      + "[[routes]]\nname = \"main\"\nbackends = [\"a\"]\n"
  }

  /// A request louter cannot decode is the front's answer: no backend is named in the record.
  @Test func undecodableRequestIsAFrontRejection() async throws {
    let backend = try FakeBackend(FakeBackend.completion)
    let louter = try RecordingGateway(Self.openAIRoutes(backend.port))
    let answer = try await louter.post(
      "/v1beta/models/m:generateContent", #"{"contents":[{"parts":[{"text":5}]}]}"#)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    let record = try #require(answer.record)
    #expect(record.hops.isEmpty)
    #expect(record.rejectedBy == "front")
    #expect(record.json["backends"] == .array([]))
    #expect(record.json["rejected_by"] == "front")
    #expect(backend.requestCount == 0)
    let served = try await louter.post("/v1beta/models/m:generateContent", GatewayTests.hello)
    #expect(served.record?.rejectedBy == nil)
    #expect(served.record?.hops == [RequestRecord.Hop(backend: "a", outcome: "ok")])
    await stop(louter.server, backend.server)
  }

  /// A backend's own 400 stays the backend's.
  @Test func backendRejectionNamesTheBackend() async throws {
    let backend = try FakeBackend(
      FakeBackend.json(400, #"{"error":{"message":"bad","type":"invalid_request_error"}}"#))
    let louter = try RecordingGateway(Self.openAIRoutes(backend.port))
    let answer = try await louter.post("/v1beta/models/m:generateContent", GatewayTests.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    #expect(answer.record?.rejectedBy == "backend")
    #expect(answer.record?.hops == [RequestRecord.Hop(backend: "a", outcome: "400")])
    await stop(louter.server, backend.server)
  }

  /// Google's countTokens sample shape (trailing commas) and the legacy SDK's integer enums, translated.
  @Test func trailingCommasAndIntegerEnumsAreServedInTranslatedMode() async throws {
    let backend = try FakeBackend(FakeBackend.completion)
    let louter = try RecordingGateway(Self.openAIRoutes(backend.port))
    let body = """
      {
        "contents": [{"parts":[{"text": "hi"},],},],
        "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": 6, "properties": {"city": {"type": 1}}}}]}],
        "toolConfig": {"functionCallingConfig": {"mode": 3}},
      }
      """
    let answer = try await louter.post("/v1beta/models/m:generateContent?$alt=json;enum-encoding=int", body)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    let sent = try JSONParser.parse(backend.receivedBody)
    #expect(sent["tool_choice"] == "none")
    #expect(
      sent["tools"]?.arrayValue?.first?["function"]?["parameters"]?.serialized()
        == #"{"type":"object","properties":{"city":{"type":"string"}}}"#)
    await stop(louter.server, backend.server)
  }

  /// Passthrough: the client's bytes (trailing commas included) go upstream; only systemInstruction is rewritten.
  @Test func passthroughPatchesABodyWithTrailingCommas() async throws {
    let gemini = try FakeBackend(
      FakeBackend.json(
        200, #"{"candidates":[{"content":{"role":"model","parts":[{"text":"ok"}]},"finishReason":"STOP"}]}"#))
    let routes =
      "[server]\nauth = \"none\"\n[backends.g]\nprotocol = \"gemini\"\nurl = \"http://127.0.0.1:\(gemini.port)\"\n"
      + "api_key = \"${TEST_KEY}\"\n[[routes]]\nsystem_prompt = { replace = \"Be kind.\" }\nbackends = [\"g\"]\n"
    let louter = try RecordingGateway(routes)
    let body = #"{"contents":[{"parts":[{"text":"hi"},],},],"systemInstruction":{"parts":[{"text":"old"},],},}"#
    let answer = try await louter.post("/v1beta/models/m:generateContent", body)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(
      String(decoding: gemini.receivedBody, as: UTF8.self)
        == #"{"contents":[{"parts":[{"text":"hi"},],},],"systemInstruction":{"parts":[{"text":"Be kind."}]},}"#)
    await stop(louter.server, gemini.server)
  }
}
