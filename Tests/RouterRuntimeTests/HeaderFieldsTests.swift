import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

/// Header fields kept as bytes (`HeaderFieldBytes`) behave as the name/value pairs they were: lookups in any ASCII
/// case, duplicates in order, values repaired as `String(decoding:)` repairs them; and routing sees the headers
/// its routes match on.
@Suite struct HeaderFieldsTests {
  /// The one request `head` parses to.
  func parsed(_ head: [UInt8]) throws -> HTTPRequest {
    var parser = HTTPRequestParser(maxBodyBytes: 1024)
    let events = parser.feed(head)
    guard case .request(let request) = events.first else { throw ParseFailure(events: "\(events)") }
    return request
  }

  struct ParseFailure: Error {
    let events: String
  }

  @Test func aParsedHeadAnswersLookupsInAnyCaseWithTheFirstOfDuplicates() throws {
    let request = try parsed(
      Array("GET / HTTP/1.1\r\nHost: h\r\nX-Team: red\r\nx-team: blue\r\nX-Empty:\r\nAccept: */*\r\n\r\n".utf8))
    #expect(request.headers["x-team"] == "red")
    #expect(request.headers["X-TEAM"] == "red")
    #expect(request.headers.values(for: "X-Team") == ["red", "blue"])
    #expect(request.headers["x-empty"] == "")
    #expect(request.headers["x-missing"] == nil)
    // A name that is a prefix, or longer, is another name.
    #expect(request.headers["x-tea"] == nil)
    #expect(request.headers["x-teams"] == nil)
    #expect(
      request.headers.pairs.map { "\($0.name)=\($0.value)" } == [
        "Host=h", "X-Team=red", "x-team=blue", "X-Empty=", "Accept=*/*",
      ])
  }

  @Test func obsTextInAValueIsRepairedWhenRead() throws {
    let request = try parsed(Array("GET / HTTP/1.1\r\nX-A: a".utf8) + [0xFF] + Array("b\r\n\r\n".utf8))
    #expect(request.headers["x-a"] == "a\u{FFFD}b")
  }

  @Test func headersBuiltFromPairsAndAppendedToReadAsThePairs() {
    var headers = HTTPHeaders([(name: "Content-Type", value: "text/plain"), (name: "Ümlaut", value: "wert")])
    headers.append(name: "content-type", value: "application/json")
    #expect(headers["CONTENT-TYPE"] == "text/plain")
    #expect(headers.values(for: "content-type") == ["text/plain", "application/json"])
    #expect(headers["Ümlaut"] == "wert")
    #expect(Array(headers).map(\.name) == ["Content-Type", "Ümlaut", "content-type"])
  }

  /// Fields appended to a parsed head go before the places of the parsed fields, which move up: all still read
  /// as their pairs, and equal the same pairs built one by one.
  @Test func fieldsAppendedToAParsedHeadReadAsThePairs() throws {
    var headers = try parsed(Array("GET / HTTP/1.1\r\nHost: h\r\nX-Team:  red \r\n\r\n".utf8)).headers
    headers.append(name: "X-Added", value: "one")
    headers.append(name: "x-team", value: "")
    let pairs = [("Host", "h"), ("X-Team", "red"), ("X-Added", "one"), ("x-team", "")]
    #expect(headers.pairs.map { "\($0.name)=\($0.value)" } == pairs.map { "\($0)=\($1)" })
    #expect(headers.values(for: "X-TEAM") == ["red", ""])
    #expect(headers["x-added"] == "one")
    #expect(headers.fields == HTTPHeaders(pairs.map { (name: $0, value: $1) }).fields)
  }

  @Test func firstValuesGiveOnlyTheNamesAskedForInTheirOrder() throws {
    let request = try parsed(Array("GET / HTTP/1.1\r\nX-Tier: gold\r\nX-Team: red\r\nX-Team: blue\r\n\r\n".utf8))
    let facts = request.headers.firstValues(of: ["x-team", "x-absent", "x-tier"])
    #expect(facts.map { "\($0.name)=\($0.value)" } == ["x-team=red", "x-tier=gold"])
    #expect(request.headers.firstValues(of: []).isEmpty)
  }

  @Test func aResponseHeadAnswersLookupsInAnyCase() {
    var parser = HTTPResponseParser()
    let events = parser.feed(
      Array("HTTP/1.1 429 Too Many\r\nRetry-After: 7\r\nretry-after: 9\r\nContent-Length: 0\r\n\r\n".utf8))
    guard case .head(let status, let headers, _) = events.first else {
      Issue.record("no head: \(events)")
      return
    }
    #expect(status == 429)
    #expect(headers["RETRY-AFTER"] == "7")
    #expect(headers["content-length"] == "0")
    #expect(headers.pairs.map(\.name) == ["Retry-After", "retry-after", "Content-Length"])
    #expect(headers == UpstreamHeaders([("Retry-After", "7"), ("retry-after", "9"), ("Content-Length", "0")]))
    #expect(headers != UpstreamHeaders([("Retry-After", "7")]))
  }

  static let teamRoutes = """
    [server]
    auth = "none"
    [backends.echo]
    protocol = "echo"
    [[routes]]
    name = "red"
    match = { header = { "X-Team" = "red" } }
    backends = ["echo"]
    [[routes]]
    name = "gold"
    match = { header = { "x-tier" = "gold", "x-team" = "blue" } }
    backends = ["echo"]
    [[routes]]
    name = "rest"
    backends = ["echo"]

    """

  @Test func theTableKnowsTheHeaderNamesItsRoutesMatchOnOnceEachInLowercase() throws {
    var sources = SourceMap()
    let file = sources.add(path: "test.toml", bytes: Array(Self.teamRoutes.utf8))
    let (syntax, _) = RouteFileDecoder.decode(try TOMLParser.parse(file), file: file)
    let table = try #require(RouteCompiler.compile([syntax], sources: sources, mode: .serve, environment: [:]).table)
    #expect(Set(table.matchedHeaderNames) == ["x-team", "x-tier"])
    #expect(table.matchedHeaderNames.count == 2)
  }

  @Test(arguments: [
    ("X-TEAM: red\r\n", "red"),
    ("x-team: blue\r\nX-Tier: gold\r\n", "gold"),
    ("x-team: blue\r\n", "rest"),
    // The first of duplicated fields is the one routing sees.
    ("X-Team: blue\r\nX-Team: red\r\nx-tier: gold\r\n", "gold"),
    ("", "rest"),
  ])
  func theGatewayRoutesOnRequestHeadersInAnyCase(headers: String, route: String) async throws {
    let louter = try GatewayUnderTest(Self.teamRoutes)
    defer { louter.stop() }
    let answer = try await louter.post(
      "/v1beta/models/m:generateContent", #"{"contents":[{"parts":[{"text":"hi"}]}]}"#, headers: headers)
    #expect(answer.head.hasPrefix("HTTP/1.1 200"))
    #expect(answer.head.contains("x-louter-route: \(route)\r\n") || answer.head.hasSuffix("x-louter-route: \(route)"))
  }
}
