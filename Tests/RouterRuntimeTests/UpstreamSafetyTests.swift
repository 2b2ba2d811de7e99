import Foundation
import Glibc
import RouteSpec
import Synchronization
import Testing

@testable import RouterRuntime

/// What a raw-socket fake backend saw on one connection: the requests, and whether louter closed it.
final class BackendSighting: Sendable {
  private let state = Mutex<(requests: [String], closed: Bool?)>(([], nil))
  let done = UpstreamEvent()

  var requests: [String] { state.withLock { $0.requests } }
  /// True when louter closed the connection, false when it was still open at the fake's safety limit.
  var closed: Bool? { state.withLock { $0.closed } }

  func saw(_ request: String) { state.withLock { $0.requests.append(request) } }

  func finish(closed: Bool) {
    state.withLock { $0.closed = closed }
    done.fire()
  }
}

/// The first line of a raw request.
func requestLine(_ request: String) -> String {
  // By bytes: a String takes CR LF for one character.
  String(decoding: request.utf8.prefix { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") }, as: UTF8.self)
}

@Suite struct ModelNameTests {
  static let refused = [
    "x%0D%0AGET%20/evil%20HTTP/1.1%0D%0AHost:%20evil%0D%0A%0D%0A", "a%20b", "a%00b", "a%0Ab", "a%09b", "/x", "x/",
    "a//b", "a%25", "a%2525", "a%3Fb", "a%23b", "a&b", "a..b", "..", "g%C3%A9mini", "a~b",
    String(repeating: "m", count: GeminiCall.maxModelLength + 1),
  ]

  @Test(arguments: refused)
  func aModelOutsideTheGrammarIsA400BeforeRouting(_ model: String) {
    #expect(throws: GeminiError.self) {
      _ = try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/\(model):generateContent")
    }
    do {
      _ = try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/\(model):generateContent")
    } catch {
      #expect(error.code == 400)
      #expect(error.status == "INVALID_ARGUMENT")
      #expect(!error.message.contains("\r") && !error.message.contains("\n"), "the message never repeats the id")
    }
    #expect(GeminiCall.parse(httpMethod: "POST", path: "/v1beta/models/\(model):generateContent") == nil)
    #expect(throws: GeminiError.self) { _ = try GeminiCall.decode(httpMethod: "GET", path: "/v1/models/\(model)") }
  }

  @Test(arguments: [
    "gemini-2.5-flash", "gpt-4o-2024-08-06", "llama3.2:3b", "claude-3-5-sonnet@20240620", "openai/gpt-4o",
    "text_embedding.004", String(repeating: "m", count: GeminiCall.maxModelLength),
  ])
  func realModelIdsStayAccepted(_ model: String) throws {
    let call = try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/models/\(model):countTokens")
    #expect(call == GeminiCall(version: "v1beta", method: .countTokens, model: model))
  }

  @Test func pathsThatAreNoGeminiCallStayNil() throws {
    #expect(try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/files/x") == nil)
    #expect(try GeminiCall.decode(httpMethod: "POST", path: "/v1beta/models/bad%zz:generateContent") == nil)
  }
}

@Suite struct UpstreamTargetTests {
  @Test func pathSegmentsPercentEncodeEverythingButUnreservedColonAndAt() throws {
    #expect(try PathSegment("gemini-2.5_flash~x:y@z").encoded == "gemini-2.5_flash~x:y@z")
    #expect(try PathSegment("a b/c?d#e%f\r\n\u{0}é").encoded == "a%20b%2Fc%3Fd%23e%25f%0D%0A%00%C3%A9")
    #expect(try PathSegment("x\r\nGET /evil HTTP/1.1").encoded == "x%0D%0AGET%20%2Fevil%20HTTP%2F1.1")
    for refused in ["", ".", ".."] {
      #expect(throws: UpstreamTargetError.self) { _ = try PathSegment(refused) }
    }
  }

  @Test func urlsAreABaseThenEncodedSegmentsAndPairs() throws {
    let url = try UpstreamURL(
      base: "http://127.0.0.1:8080/v1//", path: [PathSegment("models"), PathSegment("a/b:generateContent")],
      query: [QueryItem("alt", "sse"), QueryItem("x", "a&b=c d\r\n"), QueryItem("flag", nil)])
    #expect(url.text == "http://127.0.0.1:8080/v1/models/a%2Fb:generateContent?alt=sse&x=a%26b%3Dc%20d%0D%0A&flag")
    // The scheme in any ASCII case; trailing slashes go.
    #expect(try UpstreamURL(base: "HTTPS://Host/v1/", path: [PathSegment("x")]).text == "HTTPS://Host/v1/x")
    #expect(try UpstreamURL(base: "Echo://local", path: []).text == "Echo://local")
    #expect(try UpstreamURL(base: "http://h///", path: []).text == "http://h")
    for base in [
      "http://host/a b", "http://host/\r\nx", "http://host/\u{0}", "http://host/?q=1", "http://host/%zz",
      "ftp://host", "http://hóst", "", "http:/", "htt", "xhttp://host", "http//host",
    ] {
      #expect(throws: UpstreamTargetError.self, "\(base.debugDescription)") {
        _ = try UpstreamURL(base: base, path: [])
      }
    }
  }

  @Test func headerNamesAreTokensAndValuesHoldNoControlCharacter() throws {
    #expect(try UpstreamHeaderField("x-goog-api-key", "k\tey é").value.text == "k\tey é")
    for name in ["", "a b", "a:b", "a\r\nb", "a\u{0}", "é"] {
      #expect(throws: UpstreamTargetError.self, "\(name.debugDescription)") { _ = try HeaderName(name) }
    }
    for value in ["a\r\nx-evil: 1", "a\rb", "a\nb", "a\u{0}b", "a\u{7F}b", "a\u{1B}b"] {
      #expect(throws: UpstreamTargetError.self, "\(value.debugDescription)") { _ = try HeaderValue(value) }
    }
    do {
      _ = try UpstreamHeaderField("authorization", "Bearer secret\r\n")
      Issue.record("a CRLF in a value went through")
    } catch {
      #expect(!error.description.contains("secret"), "the error never repeats the value")
    }
  }

  @Test func theClientsQueryIsDecodedToPairs() {
    #expect(
      QueryString.items("alt=sse&k%65y=x&v=a+b%0D%0A&bare")
        == [QueryItem("alt", "sse"), QueryItem("key", "x"), QueryItem("v", "a b\r\n"), QueryItem("bare", nil)])
    #expect(QueryString.items("a=%zz") == nil)
    #expect(QueryString.items(nil) == [])
  }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct UpstreamSafetyTests {
  static let hello = #"{"contents":[{"role":"user","parts":[{"text":"hello"}]}]}"#
  static let geminiAnswer = #"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]}}]}"#

  /// A raw-socket Gemini backend: records each request on a connection, answers the first with
  /// `Connection: close`, then records whatever else arrives until louter closes the connection.
  static func recordingBackend(_ sighting: BackendSighting) throws -> RawFakeBackend {
    try RawFakeBackend { connection in
      guard let first = connection.readRequest() else {
        sighting.finish(closed: true)
        return
      }
      sighting.saw(first)
      connection.write(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(geminiAnswer.utf8.count)\r\n"
          + "Connection: close\r\n\r\n\(geminiAnswer)")
      // A smuggled second request was sent with the first; louter closes after the answer either way.
      while let more = connection.readRequest() { sighting.saw(more) }
      sighting.finish(closed: true)
    }
  }

  static func geminiRoutes(port: Int, backend extra: String = "", route: String = "") -> String {
    "[server]\nauth = \"none\"\n[backends.g]\nprotocol = \"gemini\"\nurl = \"http://127.0.0.1:\(port)\"\n"
      + "api_key = \"${TEST_KEY}\"\n\(extra)[[routes]]\n\(route)backends = [\"g\"]\n"
  }

  @Test func aRouteModelWithCRLFReachesTheBackendAsOneEncodedSegmentOfOneRequest() async throws {
    let sighting = BackendSighting()
    let backend = try Self.recordingBackend(sighting)
    defer { backend.stop() }
    let hostile = #"x\r\nGET /evil HTTP/1.1\r\nHost: evil\r\n\r\n"#
    let louter = try GatewayUnderTest(Self.geminiRoutes(port: backend.port, route: "model = \"\(hostile)\"\n"))
    let answer = try await louter.post("/v1beta/models/gemini-2.5-flash:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    // The fake accepted before louter could have its answer: no connection now means none at all.
    try #require(backend.connectionCount == 1)
    await sighting.done.wait()
    #expect(sighting.requests.count == 1)
    #expect(
      sighting.requests.first.map(requestLine)
        == "POST /v1beta/models/x%0D%0AGET%20%2Fevil%20HTTP%2F1.1%0D%0AHost:%20evil%0D%0A%0D%0A:generateContent HTTP/1.1"
    )
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func anAllowedModelWithSlashAndAtIsOnePathSegmentUpstream() async throws {
    let sighting = BackendSighting()
    let backend = try Self.recordingBackend(sighting)
    defer { backend.stop() }
    let louter = try GatewayUnderTest(Self.geminiRoutes(port: backend.port))
    let answer = try await louter.post(
      "/v1beta/models/openai%2Fgpt-4o@2024:generateContent?alt=json&k%65y=client-key&x=a%26b", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    // The fake accepted before louter could have its answer: no connection now means none at all.
    try #require(backend.connectionCount == 1)
    await sighting.done.wait()
    #expect(sighting.requests.count == 1)
    #expect(
      sighting.requests.first.map(requestLine)
        == "POST /v1beta/models/openai%2Fgpt-4o@2024:generateContent?alt=json&x=a%26b HTTP/1.1")
    #expect(sighting.requests.first?.contains("x-goog-api-key: upstream-key\r\n") == true)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func azurePutsARouteModelInItsPathAsOneEncodedSegment() async throws {
    let sighting = BackendSighting()
    let backend = try Self.recordingBackend(sighting)
    defer { backend.stop() }
    let routes =
      "[server]\nauth = \"none\"\n[backends.az]\nprotocol = \"openai\"\nflavor = \"azure\"\n"
      + "api_version = \"2024-10-21 preview&x=1\"\nurl = \"http://127.0.0.1:\(backend.port)/\"\n"
      + "api_key = \"${TEST_KEY}\"\n[[routes]]\nmodel = \"dep/../loy \\r\\nX: 1\"\nbackends = [\"az\"]\n"
    let louter = try GatewayUnderTest(routes)
    _ = try await louter.post("/v1beta/models/gemini-2.5-flash:generateContent", Self.hello)
    // The fake accepted before louter could have its answer: no connection now means none at all.
    try #require(backend.connectionCount == 1)
    await sighting.done.wait()
    #expect(sighting.requests.count == 1)
    #expect(
      sighting.requests.first.map(requestLine)
        == "POST /openai/deployments/dep%2F..%2Floy%20%0D%0AX:%201/chat/completions?api-version=2024-10-21%20preview%26x%3D1 HTTP/1.1"
    )
    #expect(sighting.requests.first?.contains("api-key: upstream-key\r\n") == true)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func aControlCharacterInTheModelIsRefusedBeforeRoutingAndNothingGoesUpstream() async throws {
    let sighting = BackendSighting()
    let backend = try Self.recordingBackend(sighting)
    defer { backend.stop() }
    let louter = try GatewayUnderTest(Self.geminiRoutes(port: backend.port))
    let answer = try await louter.post(
      "/v1beta/models/x%0D%0AGET%20/evil%20HTTP/1.1%0D%0AHost:%20evil%0D%0A%0D%0A:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    let json = try JSONParser.parse(answer.body)
    #expect(json["error"]?["status"] == "INVALID_ARGUMENT")
    #expect(backend.connectionCount == 0)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func aForwardedKeyWithCRLFIsA400AndNothingGoesUpstream() async throws {
    let sighting = BackendSighting()
    let backend = try Self.recordingBackend(sighting)
    defer { backend.stop() }
    let louter = try GatewayUnderTest(Self.geminiRoutes(port: backend.port, backend: "forward_key = true\n"))
    let answer = try await louter.post(
      "/v1beta/models/gemini-2.5-flash:generateContent?key=k%0D%0AX-Evil:%201", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 400"))
    let json = try JSONParser.parse(answer.body)
    #expect(json["error"]?["status"] == "INVALID_ARGUMENT")
    #expect(backend.connectionCount == 0)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  @Test func aRouteFileHeaderWithCRLFSkipsTheBackendAsMisconfigured() async throws {
    let sighting = BackendSighting()
    let backend = try Self.recordingBackend(sighting)
    defer { backend.stop() }
    let louter = try GatewayUnderTest(
      Self.geminiRoutes(port: backend.port, backend: #"headers = { "X-A" = "v\r\nX-Evil: 1" }"# + "\n"))
    let answer = try await louter.post("/v1beta/models/gemini-2.5-flash:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 503"))
    #expect(answer.body.contains("misconfigured"))
    #expect(backend.connectionCount == 0)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  /// The response parser refuses a bare CR in a field value (RFC 9112), so such an answer is a backend failure
  /// and nothing of its head reaches the client.
  @Test func aBackendsContentTypeWithAControlCharacterIsNotRelayed() async throws {
    let backend = try RawFakeBackend { connection in
      guard connection.readRequest() != nil else { return }
      connection.write(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\rX-Evil: 1\r\nContent-Length: \(Self.geminiAnswer.utf8.count)\r\n"
          + "Connection: close\r\n\r\n\(Self.geminiAnswer)")
    }
    defer { backend.stop() }
    let louter = try GatewayUnderTest(Self.geminiRoutes(port: backend.port))
    let answer = try await louter.post("/v1beta/models/gemini-2.5-flash:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 50"))
    #expect(!answer.head.contains("X-Evil"))
    #expect(try JSONParser.parse(answer.body)["error"] != nil)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }

  @Test(arguments: UpstreamTransportKind.allCases)
  func theTransportsRefuseATargetOrHeaderOutsideTheGrammarBeforeConnecting(_ kind: UpstreamTransportKind) async throws {
    let backend = try RawFakeBackend { connection in connection.readRequest() }
    defer { backend.stop() }
    let badTarget = UpstreamRequest.test(port: backend.port, path: "/v1/x HTTP/1.1\r\nHost: evil\r\n\r\nGET /y")
    var badHeader = UpstreamRequest.test(port: backend.port)
    badHeader.headers.append(.init(name: "x-goog-api-key", value: "k\r\nX-Evil: 1"))
    var badName = UpstreamRequest.test(port: backend.port)
    badName.headers.append(.init(name: "x-a\r\nx-evil", value: "1"))
    var badMethod = UpstreamRequest.test(port: backend.port)
    badMethod.method = "POST /x HTTP/1.1\r\n"
    for request in [badTarget, badHeader, badName, badMethod] {
      let failure = await upstreamFailure { _ = try await kind.transport.send(request) }
      guard case .invalidRequest? = failure else {
        Issue.record("\(kind): expected .invalidRequest, got \(String(describing: failure))")
        continue
      }
    }
    #expect(backend.connectionCount == 0)
  }

  /// A request built from checked parts skips the transports' second check only because it would pass it: the
  /// same strings, put in a request by hand, pass the whole check.
  @Test func requestsFromCheckedPartsWouldPassTheWholeCheck() throws {
    let bases = ["http://127.0.0.1:8080/v1", "https://h.example/a%2Fb/", "echo://local", "HTTP://X/y//"]
    let segments = ["chat", "a b", "ü", "%", "/", "...", "x:y@z", "~!$&'()*+,;=", "\r\n", "%zz", "\u{0}"]
    let queries: [[QueryItem]] = [
      [], [QueryItem("key", "a&b=c?#")], [QueryItem("x", nil), QueryItem("ü", "\u{7F}\r\n %")],
    ]
    let headerSets: [[UpstreamHeaderField]] = [
      [], [try UpstreamHeaderField("authorization", "Bearer sk-ü\t1"), try UpstreamHeaderField("x-a", "")],
    ]
    var built = 0
    for base in bases {
      for segment in segments {
        for query in queries {
          for headers in headerSets {
            let url = try UpstreamURL(base: base, path: [try PathSegment(segment), try PathSegment("z")], query: query)
            let checked = UpstreamRequest(
              post: url, headers: headers, body: [], connectTimeout: .seconds(1), firstByteTimeout: .seconds(1),
              streamIdleTimeout: .seconds(1), totalTimeout: .seconds(1))
            let byHand = UpstreamRequest(
              method: checked.method, url: checked.url, headers: checked.headers.map { ($0.name, $0.value) }, body: [],
              connectTimeout: .seconds(1), firstByteTimeout: .seconds(1), streamIdleTimeout: .seconds(1),
              totalTimeout: .seconds(1))
            #expect(throws: Never.self, "\(checked.url)") { try byHand.checkedForWire() }
            built += 1
          }
        }
      }
    }
    #expect(built == bases.count * segments.count * queries.count * headerSets.count)
  }

  /// Changing a checked request's method, URL or headers brings the whole check back.
  @Test func aChangedRequestIsCheckedAgain() throws {
    let url = try UpstreamURL(base: "http://127.0.0.1:1/v1", path: [try PathSegment("chat")])
    let checked = UpstreamRequest(
      post: url, headers: [try UpstreamHeaderField("x-a", "1")], body: [], connectTimeout: .seconds(1),
      firstByteTimeout: .seconds(1), streamIdleTimeout: .seconds(1), totalTimeout: .seconds(1))
    #expect(throws: Never.self) { try checked.checkedForWire() }
    var badURL = checked
    badURL.url += " HTTP/1.1\r\nHost: evil"
    var badHeader = checked
    badHeader.headers.append(.init(name: "x-goog-api-key", value: "k\r\nX-Evil: 1"))
    var badMethod = checked
    badMethod.method = "POST /x HTTP/1.1\r\n"
    for request in [badURL, badHeader, badMethod] {
      #expect(throws: UpstreamError.self) { try request.checkedForWire() }
    }
  }

  @Test func plainHTTPRefusesATargetThatIsNotOriginForm() async throws {
    let backend = try RawFakeBackend { connection in connection.readRequest() }
    defer { backend.stop() }
    var request = UpstreamRequest.test(port: backend.port)
    request.url = "http://127.0.0.1:\(backend.port)?x=1"
    let failure = await upstreamFailure { _ = try await PlainHTTPTransport.shared.send(request) }
    #expect(failure.map { if case .invalidRequest = $0 { true } else { false } } == true)
    #expect(backend.connectionCount == 0)
  }

  // MARK: bodies over the cap

  /// A backend whose body is larger than the cap and never ends: it reports whether louter closed the
  /// connection (the read returning 0) before the fake's own safety limit.
  static func endlessBackend(_ sighting: BackendSighting, head: String, chunk: String) throws -> RawFakeBackend {
    try RawFakeBackend { connection in
      guard let request = connection.readRequest() else {
        sighting.finish(closed: true)
        return
      }
      sighting.saw(request)
      connection.write(head)
      connection.write(chunk)
      sighting.finish(closed: connection.waitForClose())
    }
  }

  static let hugeDeclaredHead =
    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\n\r\n"
  static let chunkedHead = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"

  @Test(arguments: UpstreamTransportKind.allCases, [true, false])
  func aBodyPastTheCapClosesTheUpstreamConnectionAtOnce(_ kind: UpstreamTransportKind, declared: Bool) async throws {
    let sighting = BackendSighting()
    let chunk = String(repeating: "x", count: 3000)
    let backend = try Self.endlessBackend(
      sighting, head: declared ? Self.hugeDeclaredHead : Self.chunkedHead,
      chunk: declared ? chunk : UpstreamSockets.chunk(chunk))
    defer { backend.stop() }
    // The exchange's own deadlines are far beyond the test's limit: only the cap can end it in time.
    let response = try await kind.transport.send(
      .test(port: backend.port, firstByte: .seconds(300), idle: .seconds(300), total: .seconds(300)))
    let failure = await upstreamFailure {
      _ = try await Exchange.readAll(
        response.body, declaredLength: response.head.headers["content-length"], limit: 1024)
    }
    #expect(failure == .tooLarge)
    await sighting.done.wait()
    #expect(sighting.closed == true, "\(kind): the backend's connection stayed open past the cap")
  }

  @Test func aPassthroughAnswerPastTheCapIsA503AndClosesTheBackendsConnection() async throws {
    let sighting = BackendSighting()
    let backend = try Self.endlessBackend(sighting, head: Self.hugeDeclaredHead, chunk: "{")
    defer { backend.stop() }
    let louter = try GatewayUnderTest(
      Self.geminiRoutes(port: backend.port, backend: "timeout = \"10m\"\nstream_idle_timeout = \"10m\"\n"))
    let answer = try await louter.post("/v1beta/models/gemini-2.5-flash:generateContent", Self.hello)
    #expect(answer.head.hasPrefix("HTTP/1.1 503"))
    await sighting.done.wait()
    #expect(sighting.closed == true)
    await louter.server.shutdown(gracePeriod: .seconds(1))
  }
}
