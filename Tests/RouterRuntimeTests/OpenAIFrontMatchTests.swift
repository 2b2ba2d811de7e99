import RouteCompiler
import RouteSpec
import Testing

@Suite struct OpenAIFrontMatchTests {
  static let routes = """
    [server]
    auth = "none"
    [backends.e]
    protocol = "echo"
    [[routes]]
    name = "openai-clients"
    match = { front = "openai" }
    model = "for-openai"
    backends = ["e"]
    [[routes]]
    name = "others"
    backends = ["e"]
    [[tests]]
    name = "openai"
    request = { model = "m", front = "openai" }
    expect = { route = "openai-clients", model = "for-openai" }
    [[tests]]
    name = "gemini by default"
    request = { model = "m" }
    expect = { route = "others" }
    """

  static func compile(_ text: String) throws -> (RouteTable, [RouteFileSyntax], [Diagnostic]) {
    var sources = SourceMap()
    let file = sources.add(path: "routes.toml", bytes: Array(text.utf8))
    let (syntax, found) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let result = RouteCompiler.compile([syntax], sources: sources, mode: .check, environment: [:])
    return (try #require(result.table), [syntax], found + result.diagnostics)
  }

  @Test func frontIsAMatchFieldForRoutesTestsAndExplain() throws {
    let (table, files, diagnostics) = try Self.compile(Self.routes)
    #expect(diagnostics.filter { $0.severity == .error }.isEmpty)
    let report = RouteTestRunner.run(files, table: table)
    #expect(report.passed == 2 && report.failed == 0)
    let openAI = table.decide(RouteQuery(caller: .presentedKey, facts: RequestFacts(model: "m", front: .openai)))
    #expect(openAI.route == 0)
    #expect(table.decide(RouteQuery(caller: .presentedKey, facts: RequestFacts(model: "m"))).route == 1)
    let explained = table.explain(RouteQuery(caller: .presentedKey, facts: RequestFacts(model: "m")))
    #expect(explained.decision.route == 1)
    #expect(explained.skipped.first?.failure == .front)
  }

  @Test func unknownFrontIsADiagnostic() throws {
    var sources = SourceMap()
    let text = "[[routes]]\nmatch = { front = \"anthropic\" }\nbackends = [\"e\"]\n"
    let file = sources.add(path: "routes.toml", bytes: Array(text.utf8))
    let (_, found) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    #expect(found.contains { $0.severity == .error && $0.message.contains("front") })
  }
}
