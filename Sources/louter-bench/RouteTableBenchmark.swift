import Foundation
import RouteCompiler
import RouteSpec

/// Route-table evaluation time at 10 / 1,000 / 10,000 routes, and `check` time for 10,000 routes.
///
/// `swift run -c release louter-bench routes [--iterations N]`
enum RouteTableBenchmark {
  /// A generated configuration shaped like a large real one: per-team routes on exact models and
  /// globs, key-prefix and header routes, a deny per model family, and a catch-all at the end.
  static func configuration(routes count: Int) -> String {
    let teams = max(1, count / 10)
    var text = "version = 1\n\n[backends.primary]\nprotocol = \"echo\"\n[backends.fallback]\nprotocol = \"echo\"\n\n"
    for team in 0..<teams {
      let digest = SHA256.hexDigest("gm_team_\(team)_key")
      text += "[clients.team-\(team)]\nkeys = [\"sha256:\(digest)\"]\n"
    }
    text += "\n"
    for index in 0..<(count - 1) {
      let team = index % teams
      text += "[[routes]]\nname = \"r\(index)\"\n"
      switch index % 5 {
      case 0: text += "match = { client = \"team-\(team)\", model = \"gemini-\(index)-pro\" }\nmodel = \"gpt-4o\"\n"
      case 1: text += "match = { client = \"team-\(team)\", model = \"family-\(index)-*\" }\n"
      case 2: text += "match = { model = \"exact-model-\(index)\", stream = true }\n"
      case 3: text += "match = { client = \"team-\(team)\", model = \"m\(index)\", key_prefix = \"sk-\" }\n"
      default: text += "match = { model = \"tool-\(index)*\", tools = true }\n"
      }
      text += "backends = [\"primary\", \"fallback\"]\n\n"
    }
    text += "[[routes]]\nname = \"default\"\nbackends = [\"fallback\"]\n"
    return text
  }

  static func compile(_ text: String) -> (RouteTable?, [Diagnostic]) {
    var sources = SourceMap()
    let file = sources.add(path: "bench.toml", bytes: Array(text.utf8))
    do {
      let tree = try TOMLParser.parse(file)
      let (syntax, found) = RouteFileDecoder.decode(tree, file: file)
      let result = RouteCompiler.compile([syntax], sources: sources, mode: .check, environment: [:])
      return (result.table, found + result.diagnostics)
    } catch {
      return (nil, [error.diagnostic])
    }
  }

  static func run(_ arguments: [String]) throws {
    var iterations = 2_000_000
    if let index = arguments.firstIndex(of: "--iterations"), index + 1 < arguments.count,
      let value = Int(arguments[index + 1])
    {
      iterations = value
    }
    print("route table evaluation (release build, \(iterations) evaluations per size, mixed requests)")
    for count in [10, 1_000, 10_000] {
      let (compiled, diagnostics) = compile(configuration(routes: count))
      guard let table = compiled else {
        print("  \(count) routes: did not compile: \(diagnostics.first?.message ?? "?")")
        continue
      }
      let requests = requestMix(table: table, routes: count)
      var matched = 0
      let clock = ContinuousClock()
      let elapsed = clock.measure {
        for iteration in 0..<iterations {
          if case .forward = table.plan(for: requests[iteration % requests.count]) { matched += 1 }
        }
      }
      let nanoseconds = Double(elapsed.components.attoseconds) / 1e9 + Double(elapsed.components.seconds) * 1e9
      let perEvaluation = nanoseconds / Double(iterations)
      print(
        "  \(String(count).padding(toLength: 6, withPad: " ", startingAt: 0)) routes: "
          + String(format: "%7.1f ns per evaluation", perEvaluation) + "  (\(matched) forwarded)")
    }
    let big = configuration(routes: 10_000)
    var best = Double.infinity
    for _ in 0..<5 {
      let start = ContinuousClock.now
      let (table, _) = compile(big)
      if let table { _ = RouteTestRunner.run([], table: table) }
      let elapsed = ContinuousClock.now - start
      best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
    print(
      String(
        format: "check of 10,000 routes (%.1f MB TOML: parse, decode, compile, index): %.3f s (best of 5)",
        Double(big.utf8.count) / 1e6, best))
  }

  /// Requests that hit early, late and no specific route, so the benchmark is not one cached path.
  static func requestMix(table: RouteTable, routes count: Int) -> [RequestFacts] {
    var generator = SystemRandomNumberGenerator()
    let teams = max(1, count / 10)
    var requests: [RequestFacts] = []
    for _ in 0..<1024 {
      let index = Int(generator.next(upperBound: UInt64(max(1, count - 1))))
      let client = table.clientIndex["team-\(index % teams)"]
      let facts: RequestFacts
      switch index % 6 {
      case 0: facts = RequestFacts(client: client, model: "gemini-\(index)-pro")
      case 1: facts = RequestFacts(client: client, model: "family-\(index)-flash", endpoint: .stream, stream: true)
      case 2: facts = RequestFacts(model: "exact-model-\(index)", endpoint: .stream, stream: true)
      case 3: facts = RequestFacts(client: client, key: "sk-abc", model: "m\(index)")
      case 4: facts = RequestFacts(model: "tool-\(index)-x", tools: true)
      default: facts = RequestFacts(client: client, model: "unknown-model-\(index)")
      }
      requests.append(facts)
    }
    return requests
  }
}
