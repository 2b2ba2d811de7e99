import RouteSpec
import Testing

@testable import RouterRuntime

/// `serve`'s router: the first endpoint that claims a request answers it; the rest go to the gateway, shown in
/// flight on the dashboard while they run.
@Suite(.serialized, .timeLimit(.minutes(1))) struct EndpointRouterTests {
  /// An endpoint that claims one method and path and answers with its name.
  struct NamedEndpoint: HTTPEndpoint {
    let name: String
    let method: String
    let path: String

    func claims(_ request: HTTPRequest) -> Bool { request.method == method && request.path == path }

    func answer(_ request: HTTPRequest, responder: HTTPResponder) async {
      try? await responder.respond(status: 200, headers: [], body: Array("endpoint \(name)".utf8))
    }
  }

  static func get(_ method: String, _ path: String, port: Int) async throws -> String {
    let client = try TestClient(port: port)
    client.send("\(method) \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    let text = String(decoding: await client.readToEnd(), as: UTF8.self)
    return text.split(separator: "\r\n\r\n", maxSplits: 1).last.map(String.init) ?? ""
  }

  @Test func theFirstEndpointThatClaimsARequestAnswersItAndTheRestGoToTheInnerHandler() async throws {
    let router = EndpointRouter(
      endpoints: [
        NamedEndpoint(name: "a", method: "GET", path: "/a"),
        NamedEndpoint(name: "shadowed", method: "GET", path: "/a"),
        NamedEndpoint(name: "b", method: "GET", path: "/b"),
      ],
      inner: ClosureHandler { request, responder in
        try? await responder.respond(
          status: 200, headers: [], body: Array("inner \(request.method) \(request.path)".utf8))
      })
    let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: router)
    let port = try server.start()
    #expect(try await Self.get("GET", "/a", port: port) == "endpoint a")
    #expect(try await Self.get("GET", "/b", port: port) == "endpoint b")
    // An endpoint's path with another method, and any other path, are the inner handler's.
    #expect(try await Self.get("POST", "/a", port: port) == "inner POST /a")
    #expect(try await Self.get("GET", "/v1beta/models", port: port) == "inner GET /v1beta/models")
    server.stopNow()
  }

  @Test func aRequestForTheInnerHandlerIsInFlightOnTheDashboardUntilItEnds() async throws {
    let dashboard = Dashboard(files: [])
    let entered = Latch()
    let release = Latch()
    let router = EndpointRouter(
      endpoints: [NamedEndpoint(name: "a", method: "GET", path: "/a")],
      inner: ClosureHandler { _, responder in
        entered.open()
        await release.wait()
        try? await responder.respond(status: 200, headers: [], body: Array("done".utf8))
      },
      inFlight: dashboard)
    let server = HTTPServer(configuration: HTTPServerConfiguration(port: 0), handler: router)
    let port = try server.start()
    let client = try TestClient(port: port)
    client.send("POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await entered.wait()
    let during = dashboard.snapshot()["in_flight"]
    #expect(during?["count"] == .int(1))
    #expect(during?["requests"]?.arrayValue?.first?["path"] == .string("/v1beta/models/m:generateContent"))
    release.open()
    #expect(await client.read(until: "done").contains("200 OK"))
    // An endpoint's own request is never in flight there.
    #expect(try await Self.get("GET", "/a", port: port) == "endpoint a")
    #expect(dashboard.snapshot()["in_flight"]?["count"] == .int(0))
    server.stopNow()
  }
}
