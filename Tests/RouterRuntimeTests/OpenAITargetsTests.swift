import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// The OpenAI URLs and headers a backend sends every time are built once per table, and are exactly what the
/// per-request builders make; what depends on the request (an Azure deployment, a forwarded key) is not cached.
@Suite struct OpenAITargetsTests {
  static let routes = """
    [server]
    auth = "none"
    [backends.plain]
    protocol = "openai"
    url = "http://127.0.0.1:9/v1/"
    api_key = "${PLAIN_KEY}"
    headers = { "X-Team" = "blue" }
    [backends.forwards]
    protocol = "openai"
    url = "http://127.0.0.1:9/v1"
    forward_key = true
    [backends.az]
    protocol = "openai"
    flavor = "azure"
    api_version = "2024-10-21"
    url = "http://127.0.0.1:9/"
    api_key = "${AZ_KEY}"
    [[routes]]
    backends = ["plain", "forwards", "az"]

    """

  static func backends() throws -> [String: CompiledBackend] {
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array(routes.utf8))
    let (syntax, decoded) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let result = RouteCompiler.compile(
      [syntax], sources: sources, mode: .serve, environment: ["PLAIN_KEY": "sk-route", "AZ_KEY": "az-route"])
    #expect(!(decoded + result.diagnostics).hasErrors)
    let table = try #require(result.table)
    return Dictionary(uniqueKeysWithValues: table.backends.map { ($0.name, $0) })
  }

  static func lines(_ headers: [UpstreamHeaderField]) -> [String] {
    headers.map { "\($0.name.text): \($0.value.text)" }
  }

  @Test func aPlainBackendsURLsAndHeadersAreTheBuildersOwn() throws {
    let plain = try #require(try Self.backends()["plain"])
    let targets = OpenAITargets(plain)
    #expect(try targets.url(.chat, plain, model: "gpt-4o").text == "http://127.0.0.1:9/v1/chat/completions")
    #expect(try targets.url(.embeddings, plain, model: "e").text == "http://127.0.0.1:9/v1/embeddings")
    // The client's key never replaces the route's.
    #expect(
      Self.lines(try targets.headers(plain, key: "client-key", stream: true))
        == [
          "content-type: application/json", "accept: text/event-stream", "authorization: Bearer sk-route",
          "x-team: blue",
        ])
    #expect(
      Self.lines(try targets.headers(plain, key: nil, stream: false))
        == Self.lines(try Exchange.openAIHeaders(plain, key: nil, stream: false)))
  }

  @Test func aForwardedKeyAndAnAzureDeploymentAreBuiltPerRequest() throws {
    let backends = try Self.backends()
    let forwards = try #require(backends["forwards"])
    let targets = OpenAITargets(forwards)
    #expect(Self.lines(try targets.headers(forwards, key: "one", stream: false)).contains("authorization: Bearer one"))
    #expect(Self.lines(try targets.headers(forwards, key: "two", stream: false)).contains("authorization: Bearer two"))
    let azure = try #require(backends["az"])
    let azureTargets = OpenAITargets(azure)
    #expect(
      try azureTargets.url(.chat, azure, model: "dep-a").text
        == "http://127.0.0.1:9/openai/deployments/dep-a/chat/completions?api-version=2024-10-21")
    #expect(
      try azureTargets.url(.chat, azure, model: "dep-b").text
        == "http://127.0.0.1:9/openai/deployments/dep-b/chat/completions?api-version=2024-10-21")
    #expect(Self.lines(try azureTargets.headers(azure, key: nil, stream: false)).contains("api-key: az-route"))
  }
}
