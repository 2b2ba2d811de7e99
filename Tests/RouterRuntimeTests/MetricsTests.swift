import RouteCompiler
import RouteSpec
import Testing

@testable import RouterRuntime

@Suite struct PrometheusTextTests {
  @Test func labelValuesEscapeBackslashQuoteAndNewline() {
    var text = PrometheusText()
    text.family("louter_x_total", .counter, help: "A \\ help\nline with \"quotes\".")
    text.sample("louter_x_total", labels: [("route", "a\\b\"c\nd"), ("backend", "plain")], 3)
    #expect(
      text.text == """
        # HELP louter_x_total A \\\\ help\\nline with "quotes".
        # TYPE louter_x_total counter
        louter_x_total{route="a\\\\b\\"c\\nd",backend="plain"} 3

        """)
  }

  @Test func histogramBucketsAreCumulativeAndEndWithInf() {
    var histogram = Histogram(bounds: [1, 0.1])
    for value in [0.1, 0.05, 0.5, 100, .nan, .infinity] { histogram.observe(value) }
    var text = PrometheusText()
    text.histogram("h_seconds", labels: [("route", "r")], histogram)
    #expect(
      text.text == """
        h_seconds_bucket{route="r",le="0.1"} 2
        h_seconds_bucket{route="r",le="1.0"} 3
        h_seconds_bucket{route="r",le="+Inf"} 4
        h_seconds_sum{route="r"} 100.65
        h_seconds_count{route="r"} 4

        """)
  }

  @Test func specialValuesUseThePrometheusSpelling() {
    #expect(PrometheusText.format(.infinity) == "+Inf")
    #expect(PrometheusText.format(-.infinity) == "-Inf")
    #expect(PrometheusText.format(.nan) == "NaN")
    #expect(PrometheusText.format(0.25) == "0.25")
  }
}

@Suite struct GatewayMetricsTests {
  static func record(
    route: String = "r", client: String = "-", hops: [(String, String)], status: Int, mode: String = "openai"
  ) -> RequestRecord {
    var record = RequestRecord(id: "x")
    record.route = route
    record.client = client
    record.hops = hops.map { RequestRecord.Hop(backend: $0.0, outcome: $0.1) }
    record.status = status
    record.mode = mode
    record.model = "client-chosen-model"
    record.upstreamModel = "client-chosen-model"
    record.total = 0.2
    record.timeToFirstToken = 0.1
    record.inputTokens = 10
    record.outputTokens = 20
    return record
  }

  static func lines(_ metrics: GatewayMetrics) -> [Substring] {
    metrics.exposition(process: ProcessFigures(residentBytes: 4096, openDescriptors: 7)).split(separator: "\n")
  }

  @Test func aFallbackIsCountedByReasonAndTheRequestByItsLastBackend() {
    let metrics = GatewayMetrics(wallClock: { 1000 })
    metrics.record(Self.record(hops: [("a", "503"), ("b", "connect"), ("c", "ok")], status: 200))
    metrics.record(Self.record(client: "team", hops: [("a", "9999")], status: 0))
    let lines = Self.lines(metrics)
    #expect(
      lines.contains(
        #"louter_requests_total{route="r",backend="c",client="none",mode="openai",code="200",status_class="2xx",outcome="success"} 1"#
      ))
    #expect(
      lines.contains(
        #"louter_requests_total{route="r",backend="a",client="team",mode="openai",code="other",status_class="other",outcome="success"} 1"#
      ))
    #expect(lines.contains(#"louter_fallbacks_total{route="r",backend="a",reason="503"} 1"#))
    #expect(lines.contains(#"louter_fallbacks_total{route="r",backend="b",reason="connect"} 1"#))
    #expect(!lines.contains { $0.hasPrefix("louter_fallbacks_total") && $0.contains(#"backend="c""#) })
    metrics.record(Self.record(hops: [("a", "500"), ("a", "ok")], status: 200))
    #expect(Self.lines(metrics).contains(#"louter_retries_total{route="r",backend="a",reason="500"} 1"#))
    #expect(Self.lines(metrics).contains(#"louter_fallbacks_total{route="r",backend="a",reason="503"} 1"#))
    #expect(lines.contains(#"louter_backend_hops_total{backend="a",outcome="other"} 1"#))
    #expect(lines.contains(#"louter_input_tokens_total{route="r",backend="c"} 10"#))
    #expect(lines.contains(#"louter_time_to_first_token_seconds_count{route="r",backend="c"} 1"#))
    #expect(lines.contains(#"louter_output_tokens_per_second_bucket{route="r",backend="c",le="200.0"} 1"#))
    #expect(lines.contains("process_resident_memory_bytes 4096"))
    #expect(lines.contains("process_open_fds 7"))
    // The model a client names is never a label: any string would make a new series.
    #expect(!lines.contains { $0.contains("client-chosen-model") })
  }

  @Test func outcomesTellTheFrontTheBackendAndAGoneClientApart() {
    let metrics = GatewayMetrics()
    metrics.record(Self.record(route: "-", hops: [], status: 404, mode: "local"))
    metrics.record(Self.record(hops: [("a", "503")], status: 503))
    metrics.record(Self.record(hops: [("a", "ok")], status: 499))
    let lines = Self.lines(metrics)
    #expect(
      lines.contains(
        #"louter_requests_total{route="none",backend="none",client="none",mode="local",code="404",status_class="4xx",outcome="rejected"} 1"#
      ))
    #expect(lines.contains { $0.contains(#"code="503""#) && $0.contains(#"outcome="backend_error""#) })
    #expect(lines.contains { $0.contains(#"code="499""#) && $0.contains(#"outcome="client_closed""#) })
  }

  @Test func statusCodeLabelsAreTheCodeWithin100To599AndOtherOutside() {
    for status in [-1, 0, 99, 600, 9999] { #expect(RequestLabels.code(status) == "other") }
    for status in 100...599 { #expect(RequestLabels.code(status) == String(status)) }
    #expect(RequestLabels.reason("404") == "404")
    #expect(RequestLabels.reason("600") == "other")
  }

  @Test func labelsThatDifferOnlyInFieldsLeftOutOfTheHashStayApart() {
    let metrics = GatewayMetrics()
    metrics.record(Self.record(hops: [("a", "ok")], status: 200, mode: "openai"))
    metrics.record(Self.record(hops: [("a", "ok")], status: 200, mode: "gemini"))
    metrics.record(Self.record(hops: [("a", "ok")], status: 200, mode: "gemini"))
    metrics.record(Self.record(hops: [("a", "ok"), ("b", "ok")], status: 200))
    metrics.record(Self.record(hops: [("b", "503")], status: 200))
    let lines = Self.lines(metrics)
    #expect(
      lines.contains { $0.hasPrefix("louter_requests_total{") && $0.contains(#"mode="openai""#) && $0.hasSuffix(" 1") })
    #expect(
      lines.contains { $0.hasPrefix("louter_requests_total{") && $0.contains(#"mode="gemini""#) && $0.hasSuffix(" 2") })
    #expect(lines.contains(#"louter_backend_hops_total{backend="b",outcome="ok"} 1"#))
    #expect(lines.contains(#"louter_backend_hops_total{backend="b",outcome="503"} 1"#))
  }

  @Test func eachSeriesKeepsItsOwnLabelsAndCount() {
    // Requests that differ in one label each, counted 1, 2, 3, ... times: a series confused with another, or a
    // label read from the wrong part of its key, shows as a wrong line or count. Names of one length share a
    // lookup slot, route and backend names are swapped between two series, and there are enough series to
    // grow the tables.
    let metrics = GatewayMetrics()
    let variants: [(route: String, backend: String, client: String, mode: String, status: Int)] = [
      ("r", "a", "-", "openai", 200), ("a", "r", "-", "openai", 200), ("r", "b", "-", "openai", 200),
      ("r", "a", "c1", "openai", 200), ("r", "a", "c2", "openai", 200), ("r", "a", "-", "gemini", 200),
      ("r", "a", "-", "openai", 404), ("r", "a", "-", "openai", 499), ("r", "a", "-", "openai", 700),
      ("route-long-name-one", "a", "-", "openai", 200), ("route-long-name-two", "a", "-", "openai", 200),
      ("-", "a", "-", "openai", 200),
    ]
    for (count, variant) in variants.enumerated() {
      for _ in 0...count {
        metrics.record(
          Self.record(
            route: variant.route, client: variant.client, hops: [(variant.backend, "ok")], status: variant.status,
            mode: variant.mode))
      }
    }
    let lines = Self.lines(metrics)
    for (count, variant) in variants.enumerated() {
      let route = variant.route == "-" ? "none" : variant.route
      let client = variant.client == "-" ? "none" : variant.client
      let code = variant.status == 700 ? "other" : String(variant.status)
      let statusClass = variant.status == 700 ? "other" : "\(variant.status / 100)xx"
      let outcome = variant.status == 499 ? "client_closed" : variant.status >= 400 ? "backend_error" : "success"
      #expect(
        lines.contains(
          #"louter_requests_total{route="\#(route)",backend="\#(variant.backend)",client="\#(client)",mode="\#(variant.mode)",code="\#(code)",status_class="\#(statusClass)",outcome="\#(outcome)"} \#(count + 1)"#
        ))
    }
    #expect(lines.filter { $0.hasPrefix("louter_requests_total{") }.count == variants.count)
    #expect(lines.contains(#"louter_input_tokens_total{route="a",backend="r"} 20"#))
    #expect(lines.contains(#"louter_input_tokens_total{route="r",backend="b"} 30"#))
    #expect(lines.contains(#"louter_request_duration_seconds_count{route="route-long-name-two",backend="a"} 11"#))
    #expect(lines.contains(#"louter_backend_hops_total{backend="r",outcome="ok"} 2"#))
  }

  @Test func hopSeriesKeepTheirBackendAndReasonApart() {
    let metrics = GatewayMetrics()
    metrics.record(Self.record(hops: [("a", "503"), ("b", "connect"), ("b", "ok")], status: 200))
    metrics.record(Self.record(hops: [("b", "503"), ("a", "ok")], status: 200))
    metrics.record(Self.record(hops: [("b", "503"), ("a", "ok")], status: 200))
    let lines = Self.lines(metrics)
    #expect(lines.contains(#"louter_fallbacks_total{route="r",backend="a",reason="503"} 1"#))
    #expect(lines.contains(#"louter_fallbacks_total{route="r",backend="b",reason="503"} 2"#))
    #expect(lines.contains(#"louter_retries_total{route="r",backend="b",reason="connect"} 1"#))
    #expect(lines.contains(#"louter_backend_hops_total{backend="b",outcome="503"} 2"#))
    #expect(lines.contains(#"louter_backend_hops_total{backend="a",outcome="ok"} 2"#))
    #expect(lines.filter { $0.hasPrefix("louter_fallbacks_total{") }.count == 2)
  }

  @Test func aNameTableGivesIdsInOrderAndNoneOnceFull() {
    var table = NameTable(limit: 3)
    // "ab" and "cd" share a slot of the last-seen cache: each must still get its own id.
    #expect(table.id("ab") == 0)
    #expect(table.id("cd") == 1)
    #expect(table.id("ab") == 0)
    #expect(table.id(String(repeating: "x", count: 40)) == 2)
    #expect(table.id("ef") == nil)
    #expect(table.id("cd") == 1)
    #expect(table.names == ["ab", "cd", String(repeating: "x", count: 40)])
  }

  @Test func aSeriesTableFindsEveryKeyAfterGrowing() {
    var table = SeriesTable<Int>()
    let keys = (0..<100).map { SeriesKey(high: UInt64($0 % 7) << 32 | UInt64($0), low: UInt64($0 / 3)) }
    for (value, key) in keys.enumerated() { #expect(table.index(key) { value } == value) }
    for (value, key) in keys.enumerated() {
      #expect(table.index(key) { -1 } == value)
      #expect(table[value] == value)
    }
    #expect(table.keys == keys)
  }

  @Test func upstreamLatencyIsCountedUnderEachExchangesBackend() {
    let metrics = GatewayMetrics()
    var record = Self.record(hops: [("a", "503"), ("c", "ok")], status: 200)
    record.exchanges = [
      .init(backend: "a", latency: 0.3, open: 0.3), .init(backend: "c", latency: 0.02, open: 0.1),
      .init(backend: "c", latency: nil, open: 0.01),
    ]
    metrics.record(record)
    let lines = Self.lines(metrics)
    #expect(lines.contains(#"louter_upstream_latency_seconds_count{route="r",backend="a"} 1"#))
    #expect(lines.contains(#"louter_upstream_latency_seconds_sum{route="r",backend="a"} 0.3"#))
    #expect(lines.contains(#"louter_upstream_latency_seconds_count{route="r",backend="c"} 1"#))
    #expect(lines.contains(#"louter_request_duration_seconds_count{route="r",backend="c"} 1"#))
    // The failed hop's backend has an upstream latency, and no request of its own.
    #expect(!lines.contains { $0.hasPrefix("louter_request_duration_seconds") && $0.contains(#"backend="a""#) })
    #expect(!lines.contains { $0.hasPrefix("louter_input_tokens_total") && $0.contains(#"backend="a""#) })
  }

  @Test func tokenCountsFromABackendSaturateInsteadOfTrapping() {
    let metrics = GatewayMetrics()
    var huge = Self.record(hops: [("a", "ok")], status: 200)
    huge.inputTokens = Int.max
    metrics.record(huge)
    metrics.record(huge)
    #expect(Self.lines(metrics).contains(#"louter_input_tokens_total{route="r",backend="a"} \#(Int.max)"#))
  }

  @Test func reloadsMoveTheGenerationOnlyWhenTheyReplaceTheTable() {
    let metrics = GatewayMetrics(wallClock: { 1500 })
    metrics.reloaded(succeeded: true)
    metrics.reloaded(succeeded: false)
    let lines = Self.lines(metrics)
    #expect(lines.contains("louter_route_table_generation 2"))
    #expect(lines.contains("louter_route_table_last_reload_success 0"))
    #expect(lines.contains("louter_route_table_last_reload_timestamp_seconds 1500.0"))
    #expect(lines.contains(#"louter_route_table_reloads_total{result="success"} 1"#))
    #expect(lines.contains(#"louter_route_table_reloads_total{result="failure"} 1"#))
  }

  /// The process's CPU time and descriptor limit, as Prometheus' own clients name them: CPU is what shows a
  /// thread spinning while louter serves little (README "https backends").
  @Test func theProcessCPUTimeAndDescriptorLimitAreExposed() {
    let metrics = GatewayMetrics(wallClock: { 1000 })
    let lines = metrics.exposition(
      process: ProcessFigures(residentBytes: 4096, openDescriptors: 7, cpuSeconds: 12.5, maxDescriptors: 20_000)
    ).split(separator: "\n")
    #expect(lines.contains("# TYPE process_cpu_seconds_total counter"))
    #expect(lines.contains("process_cpu_seconds_total 12.5"))
    #expect(lines.contains("# TYPE process_max_fds gauge"))
    #expect(lines.contains("process_max_fds 20000"))
    let unreadable = metrics.exposition(process: ProcessFigures(residentBytes: nil, openDescriptors: nil))
    #expect(!unreadable.contains("process_cpu_seconds_total") && !unreadable.contains("process_max_fds"))
  }

  @Test func theProcessCPUTimeIsReadAndGrowsWithWork() {
    let before = ProcessFigures.current()
    let start = before.cpuSeconds ?? -1
    #expect(start >= 0)
    // Reading it is work enough for the clock to move (rusage counts in microseconds); bounded, so that a
    // reading stuck at one value fails instead of hanging.
    var grew = false
    for _ in 0..<10_000 where (ProcessFigures.current().cpuSeconds ?? 0) > start {
      grew = true
      break
    }
    #expect(grew)
    #expect((before.maxDescriptors ?? 0) >= (before.openDescriptors ?? 0))
  }

  @Test func residentMemoryIsReadFromTheStatusFile() {
    #expect(ProcessFigures.residentBytes(status: "Name:\tlouter\nVmRSS:\t    5120 kB\nVmSwap:\t0 kB\n") == 5_242_880)
    #expect(ProcessFigures.residentBytes(status: "VmRSS:\t99999999999999999999 kB\n") == nil)
    #expect(ProcessFigures.residentBytes(status: "Name:\tlouter\n") == nil)
    #expect(ProcessFigures.current().openDescriptors ?? 0 > 0)
  }
}
