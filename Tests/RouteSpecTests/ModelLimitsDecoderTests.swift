import Testing

@testable import RouteSpec

/// A backend's `models`: names, tables with token limits, and what is wrong with either.
@Suite struct ModelLimitsDecoderTests {
  static func backend(_ models: String) -> String {
    "[backends.g]\nprotocol = \"gemini\"\nurl = \"https://generativelanguage.googleapis.com\"\nmodels = \(models)\n"
  }

  @Test func namesAndTablesMix() throws {
    let outcome = RouteDecoderHarness.decode(
      Self.backend(
        """
        ["gemini-2.5-flash", { name = "gemini-2.5-pro", input_tokens = 1048576, output_tokens = 65536 },
                  { name = "small", output_tokens = 512 }]
        """))
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
    let models = try #require(outcome.syntax.backends.first?.models)
    #expect(models.map(\.name.value) == ["gemini-2.5-flash", "gemini-2.5-pro", "small"])
    #expect(models.map { $0.inputTokens?.value } == [nil, 1_048_576, nil])
    #expect(models.map { $0.outputTokens?.value } == [nil, 65_536, 512])
    #expect(outcome.text(models[1].inputTokens?.span) == "1048576")
    #expect(outcome.text(models[0].name.span) == "\"gemini-2.5-flash\"")
  }

  @Test func aSingleNameIsAListOfOne() throws {
    let outcome = RouteDecoderHarness.decode(Self.backend("\"gemini-2.5-pro\""))
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
    #expect(outcome.syntax.backends.first?.models.map(\.name.value) == ["gemini-2.5-pro"])
  }

  @Test(arguments: ["0", "-5", "2147483648", "9223372036854775807"])
  func limitsOutsideOneToInt32MaxAreRejected(limit: String) {
    let outcome = RouteDecoderHarness.decode(
      "[backends.g]\nprotocol = \"echo\"\n" + "models = [{ name = \"m\", output_tokens = \(limit) }]\n")
    #expect(outcome.diagnostics.map(\.code) == [.invalidValue], "\(outcome.summary)")
    let diagnostic = outcome.diagnostics.first
    #expect(diagnostic?.message == "'output_tokens' in a model of [backends.g] is out of range")
    #expect(diagnostic?.primary?.message == "allowed: 1 to 2147483647")
    #expect(outcome.text(diagnostic?.primary?.span) == limit)
    #expect(outcome.position(diagnostic) == "3:41")
    // The model itself is kept, with the default in place of the refused limit.
    #expect(outcome.syntax.backends.first?.models.map { $0.outputTokens?.value } == [nil])
  }

  @Test func theLargestLimitsAreAccepted() throws {
    let outcome = RouteDecoderHarness.decode(
      Self.backend("[{ name = \"m\", input_tokens = 2147483647, output_tokens = 1 }]"))
    #expect(outcome.diagnostics.isEmpty, "\(outcome.summary)")
    let model = try #require(outcome.syntax.backends.first?.models.first)
    #expect(model.inputTokens?.value == 2_147_483_647)
    #expect(model.outputTokens?.value == 1)
  }

  @Test func aTableWithoutNameIsMissingAField() {
    let outcome = RouteDecoderHarness.decode(Self.backend("[{ input_tokens = 1000 }]"))
    #expect(outcome.diagnostics.map(\.code) == [.missingField], "\(outcome.summary)")
    #expect(outcome.diagnostics.first?.message == "a model of [backends.g] has no 'name'")
    #expect(outcome.text(outcome.diagnostics.first?.primary?.span) == "{ input_tokens = 1000 }")
    #expect(outcome.syntax.backends.first?.models.isEmpty == true)
  }

  @Test func misspeltKeysAreUnknownWithASuggestion() {
    let outcome = RouteDecoderHarness.decode(Self.backend("[{ name = \"m\", input_token = 1000 }]"))
    #expect(outcome.diagnostics.map(\.code) == [.unknownKey], "\(outcome.summary)")
    #expect(outcome.diagnostics.first?.message == "unknown key 'input_token' in a model of [backends.g]")
    #expect(outcome.diagnostics.first?.help == "did you mean 'input_tokens'?")
  }

  @Test func wrongTypesAreReported() {
    let cases: [(String, String)] = [
      (
        "[{ name = \"m\", input_tokens = 1.5 }]",
        "expected an integer for 'input_tokens' in a model of [backends.g], found float"
      ),
      (
        "[{ name = \"m\", output_tokens = \"64k\" }]",
        "expected an integer for 'output_tokens' in a model of [backends.g], found string"
      ),
      ("[{ name = 5 }]", "expected a string for 'name' in a model of [backends.g], found integer"),
      (
        "[\"a\", 5]",
        "expected a model name or { name, input_tokens, output_tokens } for 'models' in [backends.g], found integer"
      ),
      (
        "5",
        "expected a list of model names or { name, input_tokens, output_tokens } for 'models' in [backends.g], found integer"
      ),
    ]
    for (models, message) in cases {
      let outcome = RouteDecoderHarness.decode(Self.backend(models))
      #expect(outcome.diagnostics.map(\.code) == [.wrongType], "\(models): \(outcome.summary)")
      #expect(outcome.diagnostics.first?.message == message)
    }
  }

  @Test func emptyNamesAreRejected() {
    for models in ["[\"\"]", "\"\"", "[{ name = \"\" }]"] {
      let outcome = RouteDecoderHarness.decode(Self.backend(models))
      #expect(outcome.diagnostics.map(\.code) == [.emptyValue], "\(models): \(outcome.summary)")
      #expect(outcome.syntax.backends.first?.models.isEmpty == true)
    }
  }

  @Test func aNameListedTwiceIsADuplicate() {
    let outcome = RouteDecoderHarness.decode(Self.backend("[\"m\", { name = \"m\", input_tokens = 1000 }]"))
    #expect(outcome.diagnostics.map(\.code) == [.duplicateName], "\(outcome.summary)")
    let diagnostic = outcome.diagnostics.first
    #expect(diagnostic?.message == "model 'm' is listed twice in [backends.g]")
    #expect(outcome.text(diagnostic?.primary?.span) == "\"m\"")
    #expect(outcome.position(diagnostic) == "4:25")
    #expect(diagnostic?.secondary.map { outcome.text($0.span) } == ["\"m\""])
    #expect(outcome.syntax.backends.first?.models.count == 1)
  }

  @Test func theSchemaDeclaresTheTableAndItsRange() {
    let schema = RouteFileShape.jsonSchema()
    let models = schema["properties"]?["backends"]?["additionalProperties"]?["properties"]?["models"]
    let element = models?["anyOf"]?.arrayValue?.last?["items"]?["anyOf"]?.arrayValue?.last
    #expect(element?["required"] == ["name"])
    #expect(element?["additionalProperties"] == false)
    #expect(element?["properties"]?["input_tokens"]?["minimum"] == 1)
    #expect(element?["properties"]?["output_tokens"]?["maximum"] == 2_147_483_647)
  }
}
