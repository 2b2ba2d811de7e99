public import RouteSpec

/// The outcome of running a configuration's `[[tests]]`.
public struct RouteTestReport: Sendable {
  /// Tests whose expectations held.
  public let passed: Int
  /// Tests that failed or could not run.
  public let failed: Int
  /// One diagnostic per failed test, at the test.
  public let diagnostics: [Diagnostic]
}

/// Runs `[[tests]]` blocks against a compiled table, with no network.
public enum RouteTestRunner {
  /// Runs every test of `files` against `table`.
  public static func run(_ files: [RouteFileSyntax], table: RouteTable) -> RouteTestReport {
    var passed = 0
    var failed = 0
    var diagnostics: [Diagnostic] = []
    for file in files {
      for test in file.tests {
        if let diagnostic = runOne(test, table: table) {
          failed += 1
          diagnostics.append(diagnostic)
        } else {
          passed += 1
        }
      }
    }
    return RouteTestReport(passed: passed, failed: failed, diagnostics: diagnostics)
  }

  /// What a test request produced.
  struct Outcome {
    var status: Int
    var route: Int?
    var model: String?
    var backends: [String]?
    var denied: Bool
  }

  static func runOne(_ test: RouteTestSyntax, table: RouteTable) -> Diagnostic? {
    let title = test.name.map { "route test '\($0.value)'" } ?? "route test"
    guard let request = test.request else {
      return Diagnostic(
        .routeTestInvalid, "\(title) has no request", at: Label(test.span), help: "add request = { model = \"...\" }")
    }
    guard let expect = test.expect else {
      return Diagnostic(
        .routeTestInvalid, "\(title) has no expect", at: Label(test.span), help: "add expect = { route = \"...\" }")
    }
    guard let model = request.model else {
      return Diagnostic(
        .routeTestInvalid, "\(title) has no model", at: Label(request.span), help: "add model = \"...\" to request")
    }
    var caller = RouteCaller.presentedKey
    if let client = request.client {
      guard let index = table.clientIndex[client.value] else {
        return Diagnostic(
          .routeTestInvalid, "\(title) names unknown client '\(client.value)'", at: Label(client.span),
          help: Suggestion.help(for: client.value, in: table.clients.map(\.name)))
      }
      caller = .client(index)
    }
    let stream = request.stream?.value ?? (request.endpoint?.value == .stream)
    let facts = RequestFacts(
      key: request.key?.value, model: model.value,
      endpoint: request.endpoint?.value ?? (stream ? .stream : .generate), stream: stream,
      tools: request.tools?.value ?? false, images: request.images?.value ?? false,
      headers: request.headers.map { ($0.name.value.lowercased(), $0.value.value) },
      front: request.front?.value ?? .gemini)
    let outcome = evaluate(table.decide(RouteQuery(caller: caller, facts: facts)), table: table)
    var mismatches: [String] = []
    func actualRoute() -> String { outcome.route.map { "'\(table.routes[$0].name)'" } ?? "no route" }
    if let route = expect.route, outcome.route.map({ table.routes[$0].name }) != route.value {
      mismatches.append("route: expected '\(route.value)', got \(actualRoute())")
    }
    if let expected = expect.model, outcome.model != expected.value {
      mismatches.append("model: expected '\(expected.value)', got \(outcome.model.map { "'\($0)'" } ?? "none")")
    }
    if let expected = expect.backends, outcome.backends != expected.value {
      let actual = outcome.backends.map { "[\($0.map { "\"\($0)\"" }.joined(separator: ", "))]" } ?? "none"
      mismatches.append(
        "backends: expected [\(expected.value.map { "\"\($0)\"" }.joined(separator: ", "))], got \(actual)")
    }
    if let expected = expect.deny, outcome.denied != expected.value {
      mismatches.append("deny: expected \(expected.value), got \(outcome.denied) (status \(outcome.status))")
    }
    if let expected = expect.status, outcome.status != expected.value {
      mismatches.append("status: expected \(expected.value), got \(outcome.status)")
    }
    guard !mismatches.isEmpty else { return nil }
    var secondary: [Label] = []
    if let route = outcome.route { secondary.append(Label(table.routes[route].span, "the request matched this route")) }
    return Diagnostic(
      .routeTestFailed, "\(title) failed", at: Label(expect.span, "expectation does not hold"), secondary: secondary,
      notes: mismatches)
  }

  /// The decision in the terms a test's `expect` compares (a refused request counts as denied).
  static func evaluate(_ decision: RouteDecision, table: RouteTable) -> Outcome {
    switch decision {
    case .unauthenticated, .denied:
      return Outcome(status: decision.status, route: decision.route, model: nil, backends: nil, denied: true)
    case .noRoute:
      return Outcome(status: decision.status, route: nil, model: nil, backends: nil, denied: false)
    case .routed(let plan):
      return Outcome(
        status: decision.status, route: plan.route, model: plan.model,
        backends: plan.chain.map { table.backends[$0].name }, denied: false)
    }
  }
}
