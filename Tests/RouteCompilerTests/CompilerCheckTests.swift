import Foundation
import RouteCompiler
import RouteSpec
import Testing

/// For every semantic check: a configuration that triggers it, and the fixed one that does not.
@Suite struct CompilerCheckTests {
  struct Case: CustomTestStringConvertible, Sendable {
    let code: String
    let bad: String
    let good: String
    var testDescription: String { code }
  }

  static let demo = "[backends.demo]\nprotocol = \"echo\"\n"
  static let catchAll = "[[routes]]\nbackends = [\"demo\"]\n"
  static let team = "keys = [\"sha256:67b6d12b7491fbf889be4a963bd78808c087be7925130b3b1ce4e7c12858a205\"]\n"

  static let cases: [Case] = [
    Case(
      code: "L0203", bad: demo + "[[routes]]\nbackends = [\"dmeo\"]\n", good: demo + catchAll),
    Case(
      code: "L0204",
      bad: "[clients.a]\n" + team + demo + "[[routes]]\nmatch = { client = \"b\" }\nbackends = [\"demo\"]\n"
        + catchAll,
      good: "[clients.a]\n" + team + demo + "[[routes]]\nmatch = { client = \"a\" }\nbackends = [\"demo\"]\n" + catchAll
    ),
    Case(
      code: "L0205",
      bad: demo + "[[routes]]\nname = \"x\"\nmatch = { model = \"m\" }\nbackends = [\"demo\"]\n"
        + "[[routes]]\nname = \"x\"\nbackends = [\"demo\"]\n",
      good: demo + "[[routes]]\nname = \"x\"\nmatch = { model = \"m\" }\nbackends = [\"demo\"]\n"
        + "[[routes]]\nname = \"y\"\nbackends = [\"demo\"]\n"),
    Case(
      code: "L0301", bad: demo + "[[routes]]\nmatch = { model = \"m\" }\nbackends = []\n" + catchAll,
      good: demo + "[[routes]]\nmatch = { model = \"m\" }\nbackends = [\"demo\"]\n" + catchAll),
    Case(
      code: "L0302",
      bad: demo + "[[routes]]\nmatch = { model = \"m\" }\ndeny = \"no\"\nbackends = [\"demo\"]\n" + catchAll,
      good: demo + "[[routes]]\nmatch = { model = \"m\" }\ndeny = \"no\"\n" + catchAll),
    Case(
      code: "L0303", bad: demo + "[[routes]]\nmatch = { model = \"m\" }\n" + catchAll,
      good: demo + "[[routes]]\nmatch = { model = \"m\" }\ndeny = \"no\"\n" + catchAll),
    Case(
      code: "L0304", bad: demo + catchAll + "[[routes]]\nmatch = { model = \"m\" }\nbackends = [\"demo\"]\n",
      good: demo + "[[routes]]\nmatch = { model = \"m\" }\nbackends = [\"demo\"]\n" + catchAll),
    Case(code: "L0305", bad: demo + "[backends.spare]\nprotocol = \"echo\"\n" + catchAll, good: demo + catchAll),
    Case(
      code: "L0306",
      bad: "[clients.a]\n" + team + "[clients.b]\n" + team.replacingAll("67b6", with: "77b6") + demo
        + "[[routes]]\nmatch = { client = \"a\" }\nbackends = [\"demo\"]\n",
      good: "[clients.a]\n" + team + "[clients.b]\n" + team.replacingAll("67b6", with: "77b6") + demo
        + "[[routes]]\nmatch = { client = [\"a\", \"b\"] }\nbackends = [\"demo\"]\n"),
    Case(
      code: "L0307", bad: demo + "[[routes]]\nmatch = { model = \"m\" }\nbackends = [\"demo\"]\n", good: demo + catchAll
    ),
    Case(
      code: "L0308",
      bad: "[backends.demo]\nprotocol = \"openai\"\nurl = \"https://x.test/v1\"\napi_key = \"${LOUTER_UNSET}\"\n"
        + catchAll,
      good: "[backends.demo]\nprotocol = \"openai\"\nurl = \"https://x.test/v1\"\napi_key = \"${LOUTER_TEST_KEY}\"\n"
        + catchAll),
    Case(
      code: "L0309",
      bad: "[backends.demo]\nprotocol = \"openai\"\nflavor = \"azure\"\nurl = \"https://x.test\"\n" + catchAll,
      good: "[backends.demo]\nprotocol = \"openai\"\nflavor = \"azure\"\napi_version = \"2024-10-21\"\n"
        + "url = \"https://x.test\"\n" + catchAll),
    Case(
      code: "L0310", bad: "[backends.demo]\nprotocol = \"echo\"\nforward_key = true\n" + catchAll,
      good: "[backends.demo]\nprotocol = \"echo\"\nforward_key = false\n" + catchAll),
    Case(
      code: "L0311",
      bad:
        "[backends.demo]\nprotocol = \"openai\"\nurl = \"http://llm.example.com/v1\"\napi_key = \"${LOUTER_TEST_KEY}\"\n"
        + catchAll,
      good:
        "[backends.demo]\nprotocol = \"openai\"\nurl = \"http://10.0.0.7:8000/v1\"\napi_key = \"${LOUTER_TEST_KEY}\"\n"
        + catchAll),
    Case(
      code: "L0312", bad: "[backends.demo]\nprotocol = \"echo\"\nconnect_timeout = \"10m\"\n" + catchAll,
      good: "[backends.demo]\nprotocol = \"echo\"\nconnect_timeout = \"5s\"\n" + catchAll),
    Case(
      code: "L0313",
      bad: "[backends.demo]\nprotocol = \"echo\"\nfirst_byte_timeout = \"2m\"\ntimeout = \"1m\"\n" + catchAll,
      good: "[backends.demo]\nprotocol = \"echo\"\nfirst_byte_timeout = \"30s\"\ntimeout = \"1m\"\n" + catchAll),
    Case(
      code: "L0314", bad: "[backends.demo]\nprotocol = \"echo\"\nurl = \"https://x.test\"\n" + catchAll,
      good: demo + catchAll),
    Case(
      code: "L0316",
      bad: demo + "[[routes]]\ngeneration = { top_p = { min = 0.9, max = 0.1 } }\nbackends = [\"demo\"]\n",
      good: demo + "[[routes]]\ngeneration = { top_p = { min = 0.1, max = 0.9 } }\nbackends = [\"demo\"]\n"),
    Case(
      code: "L0320",
      bad: "[clients.a]\n" + team + "limits = { requests_per_minute = 60, requests_per_hour = 60 }\n" + demo + catchAll,
      good: "[clients.a]\n" + team + "limits = { requests_per_minute = 59, requests_per_hour = 60 }\n" + demo + catchAll
    ),
  ]

  @Test(arguments: cases)
  func triggersOnlyWhenBroken(_ check: Case) {
    let bad = Pipeline(check.bad)
    #expect(bad.codes.contains(check.code), "expected \(check.code):\n\(bad.rendered)")
    let good = Pipeline(check.good)
    #expect(!good.codes.contains(check.code), "unexpected \(check.code):\n\(good.rendered)")
    #expect(!good.diagnostics.hasErrors, "\(good.rendered)")
  }

  @Test func unsetVariableIsAWarningInCheckAndAnErrorInServe() {
    let text =
      "[backends.demo]\nprotocol = \"openai\"\nurl = \"https://x.test/v1\"\napi_key = \"${LOUTER_UNSET}\"\n"
      + Self.catchAll
    let check = Pipeline(text, mode: .check)
    #expect(check.table != nil)
    #expect(check.diagnostics.first { $0.code == .unsetEnvironmentVariable }?.severity == .warning)
    let serve = Pipeline(text, mode: .serve)
    #expect(serve.table == nil)
    #expect(serve.diagnostics.first { $0.code == .unsetEnvironmentVariable }?.severity == .error)
  }

  @Test func unknownBackendSuggestsTheClosestName() {
    let pipeline = Pipeline(
      "[backends.openai]\nprotocol = \"openai\"\nurl = \"https://x.test/v1\"\n[[routes]]\nbackends = [\"opnai\"]\n")
    let diagnostic = pipeline.diagnostics.first { $0.code == .unknownBackend }
    #expect(diagnostic?.help == "did you mean 'openai'?")
    #expect(pipeline.rendered.contains("routes/a.toml:5:13"))
  }

  @Test func unreachableRouteLabelsBothRoutes() {
    let pipeline = Pipeline(
      Self.demo + "[[routes]]\nname = \"wide\"\nmatch = { model = \"gemini-*\" }\nbackends = [\"demo\"]\n"
        + "[[routes]]\nname = \"narrow\"\nmatch = { model = \"gemini-2.5-*\", stream = true }\nbackends = [\"demo\"]\n"
        + Self.catchAll)
    let diagnostic = pipeline.diagnostics.first { $0.code == .unreachableRoute }
    #expect(diagnostic?.message == "route 'narrow' is unreachable")
    #expect(diagnostic?.secondary.count == 1)
  }

  @Test func narrowerEarlierRoutesDoNotShadow() {
    let pipeline = Pipeline(
      Self.demo + "[[routes]]\nmatch = { model = \"gemini-2.5-*\", stream = true }\nbackends = [\"demo\"]\n"
        + "[[routes]]\nmatch = { model = \"gemini-*\" }\nbackends = [\"demo\"]\n"
        + "[[routes]]\nmatch = { model = \"*-flash\" }\nbackends = [\"demo\"]\n" + Self.catchAll)
    #expect(!pipeline.codes.contains("L0304"), "\(pipeline.rendered)")
  }

  @Test func theRepositoryRoutesCompileCleanly() {
    let loaded = RouteLoader.load(paths: [Fixtures.repositoryRoot.appendingPathComponent("routes").path])
    let result = RouteCompiler.compile(loaded.files, sources: loaded.sources, mode: .check, environment: [:])
    let all = loaded.diagnostics + result.diagnostics
    #expect(all.isEmpty, "\(DiagnosticRenderer(sources: loaded.sources).render(all, format: .short))")
    if let table = result.table {
      let report = RouteTestRunner.run(loaded.files, table: table)
      #expect(report.failed == 0)
      #expect(report.passed >= 5)
    }
  }
}

/// `[server] workers`: a count of event loops, in range, or one per core when absent.
@Suite struct WorkerSettingTests {
  @Test func workersInRangeCompileAndOutOfRangeIsAnError() {
    let three = Pipeline("[server]\nworkers = 3\n")
    #expect(three.table?.server.workers == 3, "\(three.rendered)")
    #expect(Pipeline("[server]\nlisten = \"127.0.0.1:1\"\n").table?.server.workers == nil)
    for bad in ["0", "1025", "-4"] {
      let pipeline = Pipeline("[server]\nworkers = \(bad)\n")
      #expect(pipeline.table == nil, "workers = \(bad)")
      #expect(pipeline.rendered.contains("workers"), "\(pipeline.rendered)")
    }
  }
}

/// `[server] idle_poll`: off unless a file turns it on; anything but a boolean is an error that names it.
@Suite struct IdlePollSettingTests {
  @Test func idlePollIsOffByDefaultAndOnWhenSet() {
    #expect(Pipeline("[server]\nlisten = \"127.0.0.1:1\"\n").table?.server.idlePoll == false)
    let on = Pipeline("[server]\nidle_poll = true\n")
    #expect(on.table?.server.idlePoll == true, "\(on.rendered)")
    #expect(Pipeline("[server]\nidle_poll = false\n").table?.server.idlePoll == false)
    let bad = Pipeline("[server]\nidle_poll = \"200us\"\n")
    #expect(bad.table == nil)
    #expect(bad.rendered.contains("idle_poll"), "\(bad.rendered)")
  }
}

/// A route's `retry` and the `context_length` fallback opt-in.
@Suite struct RetrySettingTests {
  static let backend = "[backends.a]\nprotocol = \"echo\"\n[[routes]]\nbackends = [\"a\"]\n"

  static func forward(_ pipeline: Pipeline) -> ForwardAction? {
    guard case .forward(let action)? = pipeline.table?.routes.first?.action else { return nil }
    return action
  }

  @Test func retryDefaultsApplyAndAbsentRetryIsOff() {
    let none = Self.forward(Pipeline(Self.backend))
    #expect(none?.retry == .never)
    #expect(none?.fallbackOn == [.connect, .timeout, .rateLimited, .serverError], "context_length is an opt-in")
    let defaults = Self.forward(Pipeline(Self.backend + "retry = {}\n"))
    #expect(defaults?.retry.attempts == 1)
    #expect(defaults?.retry.on == [.connect, .serverError, .rateLimited])
    #expect(defaults?.retry.maxWait.milliseconds == 2_000 && defaults?.retry.backoff.milliseconds == 250)
    let written = Self.forward(
      Pipeline(
        Self.backend + "retry = { attempts = 3, on = \"5xx\", max_wait = \"5s\", backoff = \"10ms\" }\n"
          + "fallback_on = [\"5xx\", \"context_length\"]\n"))
    #expect(written?.retry.attempts == 3 && written?.retry.on == [.serverError])
    #expect(written?.retry.maxWait.milliseconds == 5_000 && written?.retry.backoff.milliseconds == 10)
    #expect(written?.fallbackOn == [.serverError, .contextLength])
  }

  @Test func badRetriesAreCompileErrors() {
    for bad in [
      "attempts = 6", "attempts = -1", "on = [\"context_length\"]", "on = [\"4xx\"]", "max_wait = \"2m\"",
      "backoff = \"soon\"", "tries = 2",
    ] {
      let pipeline = Pipeline(Self.backend + "retry = { \(bad) }\n")
      #expect(pipeline.table == nil, "retry = { \(bad) }")
      #expect(!pipeline.diagnostics.isEmpty, "\(bad)")
    }
  }
}

/// `backends` steps that are `{ balance, members }` groups.
@Suite struct ChainGroupTests {
  static let backends =
    "[backends.a]\nprotocol = \"echo\"\n[backends.b]\nprotocol = \"echo\"\n"
    + "[backends.c]\nprotocol = \"echo\"\n[[routes]]\n"

  @Test func groupsFlattenIntoTheChainWithTheirWeights() {
    let weighted = RetrySettingTests.forward(
      Pipeline(Self.backends + "backends = [{ members = { b = 3, a = 1 } }, \"c\"]\n"))
    #expect(weighted?.chain == [1, 0, 2])
    #expect(weighted?.groups == [ChainGroup(positions: 0..<2, weights: [3, 1], balance: .weighted)])
    let listed = RetrySettingTests.forward(
      Pipeline(Self.backends + "backends = [\"c\", { balance = \"least_in_flight\", members = [\"a\", \"b\"] }]\n"))
    #expect(listed?.chain == [2, 0, 1])
    #expect(listed?.groups == [ChainGroup(positions: 1..<3, weights: [1, 1], balance: .leastInFlight)])
  }

  @Test func badGroupsAreCompileErrors() {
    for bad in [
      "{ members = { a = 0 } }", "{ members = { a = \"x\" } }", "{ members = [] }",
      "{ balance = \"random\", members = [\"a\"] }",
      "{ members = [\"a\"], weight = 2 }", "{ members = [\"zz\"] }", "{}",
    ] {
      let pipeline = Pipeline(Self.backends + "backends = [\(bad), \"c\"]\n")
      #expect(pipeline.table == nil, "\(bad)")
    }
  }
}

/// `pace` on an echo backend: a slow model in range, refused on the other protocols.
@Suite struct EchoPaceSettingTests {
  static let route = "[[routes]]\nbackends = [\"a\"]\n"

  @Test func paceIsKeptForEchoAndAbsentMeansAllAtOnce() {
    let paced = Pipeline("[backends.a]\nprotocol = \"echo\"\npace = \"250ms\"\n" + Self.route)
    #expect(paced.table?.backends.first?.pace == DurationValue(milliseconds: 250), "\(paced.rendered)")
    #expect(Pipeline("[backends.a]\nprotocol = \"echo\"\n" + Self.route).table?.backends.first?.pace == nil)
  }

  @Test func paceOutOfRangeOrOnANetworkBackendIsAnError() {
    for bad in ["\"0s\"", "\"2m\""] {
      let pipeline = Pipeline("[backends.a]\nprotocol = \"echo\"\npace = \(bad)\n" + Self.route)
      #expect(pipeline.table == nil && pipeline.rendered.contains("pace"), "\(pipeline.rendered)")
    }
    let openai = Pipeline(
      "[backends.a]\nprotocol = \"openai\"\nurl = \"http://127.0.0.1:1/v1\"\npace = \"1s\"\n" + Self.route)
    #expect(openai.codes.contains("L0314"), "\(openai.rendered)")
  }
}
