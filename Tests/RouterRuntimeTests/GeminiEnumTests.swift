import RouteSpec
import Testing

@testable import RouterRuntime

/// Enum fields read names and protobuf numbers by one rule (the legacy SDK sends `enum-encoding=int`).
@Suite struct GeminiEnumTests {
  /// What google-generativeai 0.8.x sends for a declared function with tool config and a response schema.
  static let integerBody = #"""
    {"contents":[{"parts":[{"text":"weather in Paris?"}],"role":"user"}],
     "tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather",
       "parameters":{"type":6,"properties":{"city":{"type":1},"days":{"type":3},"hourly":{"type":4},
         "tags":{"type":5,"items":{"type":1}},"temp":{"type":2,"nullable":true}},"required":["city"]}}]}],
     "toolConfig":{"functionCallingConfig":{"mode":2,"allowedFunctionNames":["get_weather"]}},
     "generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":6,"properties":{"a":{"type":1}}},
       "responseModalities":[1],"mediaResolution":2}}
    """#

  static let namedBody = #"""
    {"contents":[{"parts":[{"text":"weather in Paris?"}],"role":"user"}],
     "tools":[{"functionDeclarations":[{"name":"get_weather","description":"Weather",
       "parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING"},"days":{"type":"INTEGER"},
         "hourly":{"type":"BOOLEAN"},"tags":{"type":"ARRAY","items":{"type":"STRING"}},
         "temp":{"type":"NUMBER","nullable":true}},"required":["city"]}}]}],
     "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
     "generationConfig":{"responseMimeType":"application/json","responseSchema":{"type":"OBJECT","properties":{"a":{"type":"STRING"}}},
       "responseModalities":["TEXT"],"mediaResolution":"MEDIA_RESOLUTION_MEDIUM"}}
    """#

  @Test func integerEnumRequestTranslatesLikeTheNamedOne() throws {
    let integers = try trTranslate(Self.integerBody)
    let names = try trTranslate(Self.namedBody)
    #expect(integers == names)
    let parameters = try integers.body["tools"]?.arrayValue?.first?["function"]?["parameters"]
    #expect(
      parameters?.serialized()
        == #"{"type":"object","properties":{"city":{"type":"string"},"days":{"type":"integer"},"hourly":{"type":"boolean"},"tags":{"type":"array","items":{"type":"string"}},"temp":{"type":["number","null"]}},"required":["city"]}"#
    )
    #expect(try integers.body["tool_choice"]?["function"]?["name"]?.stringValue == "get_weather")
    #expect(
      try integers.body["response_format"]?["json_schema"]?["schema"]?.serialized()
        == #"{"type":"object","properties":{"a":{"type":"string"}}}"#)
  }

  @Test(arguments: [(1, "auto"), (3, "none")])
  func functionCallingModeNumbers(mode: Int, choice: String) throws {
    let body =
      #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f"}]}],"toolConfig":{"functionCallingConfig":{"mode":"#
      + "\(mode)}}}"
    #expect(try trTranslate(body).body["tool_choice"]?.stringValue == choice)
  }

  /// Each enum field, spelled by number, decodes to the same value as by name.
  @Test func everyRequestEnumFieldReadsNumbers() throws {
    let request = try GeminiRequest.decode(
      trJSON(
        #"""
        {"contents":[{"role":"model","parts":[{"executableCode":{"language":1,"code":"print(1)"}},
           {"codeExecutionResult":{"outcome":1,"output":"1"}}]}],
         "tools":[{"functionDeclarations":[{"name":"f","behavior":2}]}],
         "safetySettings":[{"category":10,"threshold":4},{"category":"HARM_CATEGORY_HARASSMENT","threshold":"OFF"}],
         "generationConfig":{"responseModalities":1,"mediaResolution":1}}
        """#))
    #expect(request.contents[0].parts[0].payload == .executableCode(language: "PYTHON", code: "print(1)"))
    #expect(request.contents[0].parts[1].payload == .codeExecutionResult(outcome: "OUTCOME_OK", output: "1"))
    #expect(request.tools[0].functionDeclarations[0].behavior == "NON_BLOCKING")
    #expect(request.generationConfig.responseModalities == ["TEXT"])
    #expect(request.ignoredFields.contains("safetySettings"))
  }

  @Test func imageModalityByNumberIsStillRefused() throws {
    #expect(
      try trTranslateError(#"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseModalities":[1,2]}}"#)
        == "generationConfig.responseModalities: only TEXT output is available on OpenAI-compatible backends")
  }

  @Test(arguments: [
    (
      #"{"contents":[],"toolConfig":{"functionCallingConfig":{"mode":9}}}"#,
      "toolConfig.functionCallingConfig: mode has no FunctionCallingConfig.Mode value numbered 9"
    ),
    (
      #"{"contents":[],"toolConfig":{"functionCallingConfig":{"mode":true}}}"#,
      "toolConfig.functionCallingConfig: mode must be a FunctionCallingConfig.Mode name or number"
    ),
    (
      #"{"contents":[],"safetySettings":[{"category":99,"threshold":1}]}"#,
      "safetySettings[0]: category has no HarmCategory value numbered 99"
    ),
    (
      #"{"contents":[],"safetySettings":{"category":1,"threshold":[]}}"#,
      "safetySettings[0]: threshold must be a SafetySetting.HarmBlockThreshold name or number"
    ),
    (
      #"{"contents":[],"generationConfig":{"mediaResolution":-1}}"#,
      "generationConfig: mediaResolution has no MediaResolution value numbered -1"
    ),
    (
      #"{"contents":[],"generationConfig":{"responseModalities":[1.5]}}"#,
      "generationConfig: responseModalities must be a GenerationConfig.Modality name or number"
    ),
  ])
  func badEnumNumbersAreTheClientsError(body: String, message: String) throws {
    #expect(try trDecodeError(body) == message)
  }

  @Test func schemaTypeNumbersOutsideTheTableAreRefused() throws {
    let body =
      #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":6,"properties":{"a":{"type":42}}}}]}]}"#
    #expect(
      try trTranslateError(body)
        == "tools.functionDeclarations[0].parameters.properties.a.type: has no Type value numbered 42")
    let unspecified =
      #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"functionDeclarations":[{"name":"f","parameters":{"type":0}}]}]}"#
    #expect(
      try trTranslate(unspecified).body["tools"]?.arrayValue?.first?["function"]?["parameters"]?.serialized() == "{}")
  }

  @Test func embeddingTaskTypeByNumberAndByName() throws {
    for taskType in ["1", #""RETRIEVAL_QUERY""#, "7.0"] {
      let request = try EmbeddingTranslator.openAIRequest(
        trJSON(#"{"content":{"parts":[{"text":"a"}]},"taskType":"# + taskType + "}"), batch: false,
        urlModel: "m", backendModel: "e")
      #expect(request.warnings.headerValue == "dropped=taskType")
    }
    #expect(throws: GeminiRequestError("taskType has no TaskType value numbered 8")) {
      try EmbeddingTranslator.openAIRequest(
        trJSON(#"{"content":{"parts":[{"text":"a"}]},"taskType":8}"#), batch: false, urlModel: "m",
        backendModel: "e")
    }
  }

  /// The tables carry Google's numbers (spot checks against generativelanguage v1beta).
  @Test func tablesMatchTheProtoNumbers() {
    #expect(GeminiEnum.type.number(of: "object") == 6)
    #expect(GeminiEnum.type.name(of: 7) == "NULL")
    #expect(GeminiEnum.functionCallingMode.number(of: "VALIDATED") == 4)
    #expect(GeminiEnum.finishReason.number(of: "LANGUAGE") == 6)
    #expect(GeminiEnum.finishReason.number(of: "MALFORMED_FUNCTION_CALL") == 10)
    #expect(GeminiEnum.harmCategory.number(of: "HARM_CATEGORY_CIVIC_INTEGRITY") == 11)
    #expect(GeminiEnum.harmBlockThreshold.number(of: "OFF") == 5)
    #expect(GeminiEnum.responseModality.number(of: "AUDIO") == 3)
    #expect(GeminiEnum.modality.number(of: "AUDIO") == 4)
    #expect(GeminiEnum.taskType.number(of: "FACT_VERIFICATION") == 7)
    #expect(GeminiEnum.type.name(of: Int64.min) == nil)
    #expect(GeminiEnum.type.decode(.double(1e300)) == .failure(.notAnEnum))
    #expect(GeminiEnum.finishReason.encode("STOP", asNumber: true) == .int(1))
    #expect(GeminiEnum.finishReason.encode("STOP", asNumber: false) == .string("STOP"))
    #expect(GeminiEnum.finishReason.encode("SOMETHING_NEW", asNumber: true) == .string("SOMETHING_NEW"))
  }

  @Test(arguments: [
    ("$alt=json;enum-encoding=int", GeminiAlt(sse: false, integerEnums: true)),
    ("%24alt=json%3Benum-encoding%3Dint&key=k", GeminiAlt(sse: false, integerEnums: true)),
    ("alt=json", GeminiAlt()), ("alt=sse", GeminiAlt(sse: true)), ("key=k", GeminiAlt()),
  ])
  func altParameter(query: String, alt: GeminiAlt) {
    #expect(GeminiAlt.parse(query: query) == alt)
  }

  /// With `enum-encoding=int` the answer's enums are numbers, as Google answers; otherwise names.
  @Test func answersUseNumbersOnlyWhenAsked() throws {
    var options = trResponseOptions
    options.integerEnums = true
    let completion = try trJSON(
      #"{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"a"},"finish_reason":"length"}]}"#)
    let numbered = try OpenAIToGemini.translate(completion, options: options)
    #expect(numbered.json["candidates"]?.arrayValue?.first?["finishReason"] == .int(2))
    let named = try OpenAIToGemini.translate(completion, options: trResponseOptions)
    #expect(named.json["candidates"]?.arrayValue?.first?["finishReason"] == "MAX_TOKENS")

    var translator = OpenAIStreamTranslator(options: options)
    _ = translator.consume(#"{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}]}"#)
    let last = translator.consume("[DONE]").last?.json
    #expect(last?["candidates"]?.arrayValue?.first?["finishReason"] == .int(1))
  }

  @Test func numberedResponseConvertsEveryResponseEnum() throws {
    let response = try trJSON(
      #"""
      {"candidates":[{"content":{"role":"model","parts":[{"executableCode":{"language":"PYTHON","code":"x"}},
        {"codeExecutionResult":{"outcome":"OUTCOME_FAILED","output":""}}]},"finishReason":"SAFETY",
        "safetyRatings":[{"category":"HARM_CATEGORY_HATE_SPEECH","probability":"LOW"}]}],
       "promptFeedback":{"blockReason":"OTHER","safetyRatings":[]},
       "usageMetadata":{"promptTokensDetails":[{"modality":"AUDIO","tokenCount":1}]},"modelVersion":"STOP"}
      """#)
    #expect(
      GeminiEnum.numbered(response: response).serialized()
        == #"{"candidates":[{"content":{"role":"model","parts":[{"executableCode":{"language":1,"code":"x"}},{"codeExecutionResult":{"outcome":2,"output":""}}]},"finishReason":3,"safetyRatings":[{"category":8,"probability":2}]}],"promptFeedback":{"blockReason":2,"safetyRatings":[]},"usageMetadata":{"promptTokensDetails":[{"modality":4,"tokenCount":1}]},"modelVersion":"STOP"}"#
    )
  }
}
