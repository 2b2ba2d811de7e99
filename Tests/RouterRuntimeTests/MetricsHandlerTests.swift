import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// Compiles one route file; fails the test on any error.
func compileMetricsRoutes(_ text: String) throws -> (table: RouteTable?, diagnostics: [Diagnostic]) {
  var sources = SourceMap()
  let file = sources.add(path: "test.toml", bytes: Array(text.utf8))
  let (syntax, decoded) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
  let result = RouteCompiler.compile([syntax], sources: sources, mode: .serve, environment: [:])
  return (result.table, decoded + result.diagnostics)
}

@Suite struct MetricsAdminKeyTests {
  static let adminKey = "louter-admin-test-key"

  static func routes(server: String) -> String {
    """
    version = 1
    [server]
    auth = "none"
    \(server)
    [backends.echo]
    protocol = "echo"
    [[routes]]
    name = "all"
    backends = ["echo"]

    """
  }

  @Test func adminKeysAreDigestsAndArePartOfTheCompiledServer() throws {
    let digest = SHA256.hexDigest(Self.adminKey)
    let (table, diagnostics) = try compileMetricsRoutes(Self.routes(server: "admin_keys = [\"sha256:\(digest)\"]"))
    #expect(!diagnostics.hasErrors)
    let server = try #require(table).server
    #expect(server.adminKeyHashes == [digest])
    #expect(server.isAdminKey(Self.adminKey))
    #expect(!server.isAdminKey("another key"))
    #expect(try #require(table).dumpJSON()["server"]?["admin_keys"] == .int(1))
  }

  @Test func aPlainTextOrMalformedAdminKeyIsAnError() throws {
    let plain = try compileMetricsRoutes(Self.routes(server: "admin_keys = \"\(Self.adminKey)\""))
    #expect(plain.diagnostics.hasErrors)
    #expect(plain.diagnostics.contains { $0.code == .plainTextKey })
    let malformed = try compileMetricsRoutes(Self.routes(server: "admin_keys = [\"sha256:abc\"]"))
    #expect(malformed.diagnostics.contains { $0.code == .invalidValue && $0.message == "malformed key digest" })
    let variable = try compileMetricsRoutes(Self.routes(server: "admin_keys = [\"${ADMIN}\"]"))
    #expect(
      variable.diagnostics.contains { $0.message == "'admin_keys' holds sha256 digests, not environment variables" })
  }

  @Test func theSchemaListsAdminKeys() {
    #expect(RouteFileShape.server.names.contains("admin_keys"))
  }

  @Test func withoutAdminKeysOnlyALoopbackListenerServesMetrics() throws {
    let open = try #require(try compileMetricsRoutes(Self.routes(server: "")).table).server
    #expect(MetricsAccess.decide(key: nil, server: open, loopback: true) == .allowed)
    #expect(MetricsAccess.decide(key: "anything", server: open, loopback: false) == .disabled)
    let digest = SHA256.hexDigest(Self.adminKey)
    let keyed = try #require(
      try compileMetricsRoutes(Self.routes(server: "admin_keys = \"sha256:\(digest)\"")).table
    ).server
    #expect(MetricsAccess.decide(key: nil, server: keyed, loopback: true) == .unauthorized)
    #expect(MetricsAccess.decide(key: "wrong", server: keyed, loopback: true) == .unauthorized)
    #expect(MetricsAccess.decide(key: Self.adminKey, server: keyed, loopback: false) == .allowed)
  }

  @Test func loopbackHostsAreTheLoopbackRangeOnly() {
    for host in ["127.0.0.1", "127.1.2.3", "localhost", "::1"] {
      #expect(MetricsAccess.isLoopback(host: host), "\(host)")
    }
    for host in ["0.0.0.0", "::", "10.0.0.1", "127.0.0", "127.0.0.256", "127.0.0.1.5", "127.example.com", "128.0.0.1"] {
      #expect(!MetricsAccess.isLoopback(host: host), "\(host)")
    }
  }
}

/// louter's handler stack as `serve` builds it: the metrics wrapper in front of a gateway, on 127.0.0.1.
struct MetricsServerUnderTest: TestServer {
  let server: HTTPServer
  let port: Int
  let metrics: GatewayMetrics

  init(_ routes: String, loopback: Bool = true) throws {
    let (compiled, diagnostics) = try compileMetricsRoutes(routes)
    guard let table = compiled, !diagnostics.hasErrors else { throw GatewayTestError.routes("\(diagnostics)") }
    let metrics = GatewayMetrics()
    let gateway = Gateway(table: table, transport: TransportFactory.make, sink: { metrics.record($0) })
    let handler = EndpointRouter(
      endpoints: [MetricsEndpoint(metrics: metrics, loopback: loopback, server: { gateway.table.server })],
      inner: gateway)
    let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: handler)
    metrics.readGauges {
      ServerGauges(requestsInFlight: server.activeRequestCount, openConnections: server.connectionCount)
    }
    self.server = server
    self.metrics = metrics
    port = try server.start()
  }

  func stop() { server.stopNow() }

  /// Sends one request on a new connection and returns the head and the body.
  func send(_ method: String, _ path: String, headers: String = "") async throws -> (head: String, body: String) {
    let client = try TestClient(port: port)
    client.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\n\(headers)Content-Length: 0\r\nConnection: close\r\n\r\n")
    let text = String(decoding: await client.readToEnd(), as: UTF8.self)
    guard let split = text.firstRange(of: "\r\n\r\n") else { return (text, "") }
    return (String(text[..<split.lowerBound]), String(text[split.upperBound...]))
  }
}

@Suite(.serialized, .timeLimit(.minutes(1))) struct MetricsHandlerTests {
  static let digest = SHA256.hexDigest(MetricsAdminKeyTests.adminKey)

  @Test func metricsNeedAnAdminKeyWhenAdminKeysAreSet() async throws {
    let louter = try MetricsServerUnderTest(
      MetricsAdminKeyTests.routes(server: "admin_keys = [\"sha256:\(Self.digest)\"]"))
    defer { stopAll(louter) }
    var record = RequestRecord(id: "r1")
    record.route = "all"
    record.hops = [RequestRecord.Hop(backend: "echo", outcome: "ok")]
    record.status = 200
    record.mode = "echo"
    louter.metrics.record(record)

    let refused = try await louter.send("GET", "/metrics")
    #expect(refused.head.hasPrefix("HTTP/1.1 401"))
    #expect(refused.head.lowercased().contains("www-authenticate: bearer"))
    #expect(!refused.body.contains("louter_requests_total"))
    let wrong = try await louter.send("GET", "/metrics", headers: "Authorization: Bearer not-the-key\r\n")
    #expect(wrong.head.hasPrefix("HTTP/1.1 401"))

    let bearer = try await louter.send(
      "GET", "/metrics", headers: "Authorization: Bearer \(MetricsAdminKeyTests.adminKey)\r\n")
    #expect(bearer.head.hasPrefix("HTTP/1.1 200"))
    #expect(bearer.head.lowercased().contains("content-type: text/plain; version=0.0.4"))
    #expect(
      bearer.body.contains(
        #"louter_requests_total{route="all",backend="echo",client="none",mode="echo",code="200",status_class="2xx",outcome="success"} 1"#
      ))
    #expect(bearer.body.contains("louter_requests_in_flight 1\n"))
    #expect(bearer.body.contains("louter_open_connections 1\n"))
    let goog = try await louter.send("GET", "/metrics", headers: "x-goog-api-key: \(MetricsAdminKeyTests.adminKey)\r\n")
    #expect(goog.head.hasPrefix("HTTP/1.1 200"))
  }

  @Test func everythingElseGoesToTheGateway() async throws {
    let louter = try MetricsServerUnderTest(MetricsAdminKeyTests.routes(server: ""))
    defer { stopAll(louter) }
    let health = try await louter.send("GET", "/healthz")
    #expect(health.head.hasPrefix("HTTP/1.1 200"))
    #expect(health.body.contains("\"ok\""))
    let post = try await louter.send("POST", "/metrics")
    #expect(post.head.hasPrefix("HTTP/1.1 405"))
    #expect(post.head.lowercased().contains("allow: get"))
    // No admin keys, loopback: open.
    let open = try await louter.send("GET", "/metrics")
    #expect(open.head.hasPrefix("HTTP/1.1 200"))
    #expect(open.body.contains("# TYPE louter_requests_total counter"))
  }

  @Test func withoutAdminKeysBeyondLoopbackMetricsAreOff() async throws {
    let louter = try MetricsServerUnderTest(MetricsAdminKeyTests.routes(server: ""), loopback: false)
    defer { stopAll(louter) }
    let answer = try await louter.send("GET", "/metrics")
    #expect(answer.head.hasPrefix("HTTP/1.1 403"))
    #expect(answer.body.contains("admin_keys"))
  }
}
