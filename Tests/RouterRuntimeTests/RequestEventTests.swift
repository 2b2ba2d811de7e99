import RouteSpec
import Testing

@testable import RouterRuntime

/// The request record is written from typed events only; instants are given, so times are exact.
@Suite struct RequestEventTests {
  static let start = MonotonicInstant.now

  static func record(_ events: [RequestEvent]) -> RequestRecord {
    var record = RequestRecord(id: "r")
    for event in events { record.apply(event, started: start) }
    return record
  }

  @Test func aTranslatedWholeAnswer() {
    let record = Self.record([
      .call(method: "generateContent", model: "m"), .client("team"), .route("chat", upstreamModel: "gpt"),
      .hopStarted(mode: "openai"), .hopEnded(backend: "a", outcome: "503"), .hopStarted(mode: "gemini"),
      .usage(TokenUsage(input: 3, output: 5, reported: true)),
      .answered(status: 200, tokens: true, at: Self.start + .milliseconds(250)),
      .hopEnded(backend: "b", outcome: "ok"), .finished(at: Self.start + .seconds(1)),
    ])
    #expect(record.method == "generateContent" && record.model == "m" && record.client == "team")
    #expect(record.route == "chat" && record.upstreamModel == "gpt" && record.mode == "gemini")
    #expect(record.hops == [.init(backend: "a", outcome: "503"), .init(backend: "b", outcome: "ok")])
    #expect(record.status == 200 && record.timeToFirstToken == 0.25 && record.total == 1)
    #expect(record.inputTokens == 3 && record.outputTokens == 5 && !record.tokensEstimated && !record.streamed)
  }

  @Test func aFrontAnswerHasNoFirstTokenAndADeniedRouteNoUpstreamModel() {
    let record = Self.record([
      .call(method: "listModels", model: ""), .route("deny-all", upstreamModel: nil),
      .answered(status: 403, tokens: false, at: Self.start + .milliseconds(5)),
    ])
    #expect(record.model == "-" && record.upstreamModel == "-" && record.route == "deny-all")
    #expect(record.status == 403 && record.timeToFirstToken == nil && record.rejectedBy == "front")
  }

  @Test func aStreamWithoutUsageIsEstimatedOnlyWhenComplete() {
    var facts = RelayFacts(committedAt: Self.start + .milliseconds(100), status: 200, textBytes: 9)
    #expect(Self.record([.streamed(facts)]).outputTokens == nil)
    facts.complete = true
    let record = Self.record([.streamed(facts)])
    #expect(record.streamed && record.timeToFirstToken == 0.1 && record.status == 200)
    #expect(record.outputTokens == 3 && record.tokensEstimated)
    facts.usage = TokenUsage(input: 1, output: 7, reported: true)
    let reported = Self.record([.streamed(facts)])
    #expect(reported.outputTokens == 7 && !reported.tokensEstimated)
  }

  @Test func aClientThatWentAwayIs499WhateverCameBefore() {
    let record = Self.record([
      .streamed(RelayFacts(committedAt: Self.start, status: 200)), .clientGone,
    ])
    #expect(record.status == 499)
    #expect(Self.record([.streamed(RelayFacts(status: 499))]).status == 499)
  }
}
