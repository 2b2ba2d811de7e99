import RouteSpec
import Testing

@testable import RouteCompiler
@testable import RouterRuntime

/// ``RouteActions/apply(_:to:)`` returns a request whose route has no actions at once: held to what the whole
/// walk gives for such a plan (the request unchanged) over seeded bodies of every shape the walk looks at, and
/// the walk still runs when there is an action.
@Suite struct FrontRouteActionsTests {
  static func plan(systemPrompt: SystemPromptAction? = nil, generation: [GenerationRule] = []) -> ForwardPlan {
    ForwardPlan(
      route: 0, model: "m", systemPrompt: systemPrompt, generation: generation, chain: [], fallbackOn: [],
      retry: .never, continueOnBreak: true)
  }

  /// Member names the walk compares, and others.
  static let names = [
    "systemInstruction", "system_instruction", "generationConfig", "generation_config", "contents", "tools", "",
    "é", "generationconfig",
  ]
  static let values: [JSONValue] = [
    .null, true, 1, 2.5, "text", .array([]), .object([]), .object(["temperature": 3, "max_output_tokens": 9]),
    .object(["parts": .array([.object(["text": "s"])]), "role": "user"]),
  ]

  @Test func aPlanWithoutActionsLeavesEveryRequestAsItIs() {
    var random = SeededGenerator(state: 5)
    let untouched = Self.plan()
    for _ in 0..<3000 {
      let body: JSONValue
      if Int.random(in: 0..<10, using: &random) == 0 {
        body = Self.values.randomElement(using: &random) ?? .null
      } else {
        body = .object(
          (0..<Int.random(in: 0..<6, using: &random)).map { _ in
            JSONMember(
              Self.names.randomElement(using: &random) ?? "", Self.values.randomElement(using: &random) ?? .null)
          })
      }
      #expect(RouteActions.apply(untouched, to: body) == body, "\(body)")
    }
  }

  @Test func aPlanWithActionsStillChangesTheRequest() {
    let body: JSONValue = .object(["contents": .array([]), "generation_config": .object(["temperature": 3])])
    let clamped = RouteActions.apply(
      Self.plan(generation: [GenerationRule(parameter: .temperature, rule: ParameterRule(max: 1.0))]), to: body)
    #expect(clamped == .object(["contents": .array([]), "generation_config": .object(["temperature": 1.0])]))
    let prompted = RouteActions.apply(Self.plan(systemPrompt: .replace("R")), to: body)
    #expect(
      prompted
        == .object([
          "contents": .array([]), "generation_config": .object(["temperature": 3]),
          "systemInstruction": .object(["parts": .array([.object(["text": "R"])])]),
        ]))
  }
}
