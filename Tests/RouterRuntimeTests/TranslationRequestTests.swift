import RouteSpec
import Testing

@testable import RouterRuntime

/// Parses JSON text in tests (fails the test on bad JSON).
func trJSON(_ text: String) throws -> JSONValue { try JSONParser.parse(text) }

extension OpenAIChatRequest {
  /// The body parsed back into a tree, for tests to look into (it fails the test when the bytes are not JSON).
  var body: JSONValue {
    get throws { try JSONParser.parse(bodyBytes) }
  }
}

func trDecodeError(_ text: String) throws -> String? {
  do {
    _ = try GeminiRequest.decode(trJSON(text))
    return nil
  } catch let error as GeminiRequestError {
    return error.message
  }
}

func trTranslate(
  _ text: String, dialect: OpenAIDialect = .openAI, stream: Bool = false
) throws -> OpenAIChatRequest {
  try GeminiToOpenAI.translate(GeminiRequest.decode(trJSON(text)), model: "gpt-4o", dialect: dialect, stream: stream)
}

func trTranslateError(_ text: String, dialect: OpenAIDialect = .openAI) throws -> String? {
  do {
    _ = try trTranslate(text, dialect: dialect)
    return nil
  } catch let error as GeminiRequestError {
    return error.message
  }
}

@Suite struct TranslationDecodeTests {
  /// The mixed casing google-genai 3.4.0 really sends.
  @Test func decodesSDKMixedCase() throws {
    let request = try GeminiRequest.decode(
      trJSON(
        #"""
        {"contents":[{"parts":[{"text":"Describe"},{"inlineData":{"data":"iVBORw0KGgo","mime_type":"image/png"}}],"role":"user"}],
         "systemInstruction":{"parts":[{"text":"Be brief."}],"role":"user"},
         "generationConfig":{"temperature":0.2,"topK":40.0,"candidateCount":1.0,"max_output_tokens":64,
           "thinkingConfig":{"thinking_budget":0,"include_thoughts":true,"thinking_level":"low"}},
         "tools":[{"functionDeclarations":[{"name":"f","description":"d","parameters_json_schema":{"type":"object"}}]}],
         "tool_config":{"function_calling_config":{"mode":"any","allowed_function_names":"f"}}}
        """#))
    #expect(request.contents.count == 1)
    #expect(request.contents[0].parts[1].payload == .inlineData(mimeType: "image/png", base64: "iVBORw0KGgo="))
    #expect(request.generationConfig.topK == 40)
    #expect(request.generationConfig.candidateCount == 1)
    #expect(request.generationConfig.maxOutputTokens == 64)
    #expect(
      request.generationConfig.thinkingConfig
        == GeminiThinkingConfig(includeThoughts: true, thinkingBudget: 0, thinkingLevel: "LOW"))
    #expect(request.tools[0].functionDeclarations[0].parametersJsonSchema == .object([JSONMember("type", "object")]))
    #expect(request.toolConfig == GeminiToolConfig(mode: "ANY", allowedFunctionNames: ["f"]))
    #expect(request.systemInstruction?.parts.first?.payload == .text("Be brief."))
    #expect(request.unknownFields.isEmpty)
  }

  @Test func acceptsSingleObjectsWhereArraysAreExpected() throws {
    let request = try GeminiRequest.decode(trJSON(#"{"contents":{"role":"user","parts":{"text":"hi"}}}"#))
    #expect(request.contents == [GeminiContent(role: "user", parts: [GeminiPart(payload: .text("hi"))])])
  }

  @Test func responseJsonSchemaHasThreeSpellings() throws {
    for key in ["responseJsonSchema", "_responseJsonSchema", "response_json_schema"] {
      let request = try GeminiRequest.decode(
        trJSON(#"{"contents":[],"generationConfig":{"\#(key)":{"type":"string"}}}"#))
      #expect(request.generationConfig.responseJsonSchema == .object([JSONMember("type", "string")]), "\(key)")
    }
  }

  @Test func reportsPreciseErrors() throws {
    #expect(
      try trDecodeError(
        #"{"contents":[{"parts":[{"text":"a"}]},{"parts":[]},{"parts":[{"inlineData":{"mimeType":"image/png","data":"**"}}]}]}"#
      )
        == "contents[2].parts[0]: inlineData.data is not valid base64")
    #expect(
      try trDecodeError(#"{"contents":[{"parts":[{"text":1}]}]}"#) == "contents[0].parts[0]: text must be a string")
    #expect(
      try trDecodeError(#"{"contents":[],"generationConfig":{"topK":1.5}}"#)
        == "generationConfig: topK must be an integer")
    #expect(
      try trDecodeError(#"{"contents":[{"parts":[{"text":"a","functionCall":{"name":"f"}}]}]}"#)
        == "contents[0].parts[0]: a part must have exactly one data field, found text and functionCall")
    #expect(
      try trDecodeError(#"{"contents":[{"parts":[{"functionCall":{"args":{}}}]}]}"#)
        == "contents[0].parts[0]: functionCall.name is required")
    #expect(try trDecodeError(#"{"contents":[3]}"#) == "contents[0]: Content must be an object")
    do {
      _ = try GeminiRequest.decode(body: Array(#"{"contents":[}"#.utf8))
      Issue.record("expected an error")
    } catch {
      #expect(error.message.hasPrefix("Invalid JSON payload received."))
      #expect(error.geminiError.code == 400)
      #expect(error.geminiError.status == "INVALID_ARGUMENT")
    }
  }

  @Test func base64IsNormalised() {
    #expect(Base64.normalized("-_8") == "+/8=")
    #expect(Base64.normalized("QUJD") == "QUJD")
    #expect(Base64.normalized("QUI") == "QUI=")
    #expect(Base64.normalized("QQ") == "QQ==")
    #expect(Base64.normalized("QQ==") == "QQ==")
    #expect(Base64.normalized("Q\nQ=\n=") == "QQ==")
    #expect(Base64.normalized("Q") == nil)
    #expect(Base64.normalized("QQ=a") == nil)
    #expect(Base64.normalized("QUJD=") == nil)
    #expect(Base64.encode(Array("ABCD".utf8)) == "QUJDRA==")
    #expect(Base64.encode(Array("AB".utf8)) == "QUI=")
  }

  @Test func unknownAndIgnoredFieldsBecomeWarnings() throws {
    let result = try trTranslate(
      #"{"contents":[{"parts":[{"text":"hi","videoMetadata":{}}]}],"safetySettings":[{"category":"x","threshold":"OFF"}],"futureField":1,"generationConfig":{"topK":3,"mediaResolution":"LOW","newKnob":true}}"#
    )
    #expect(
      result.warnings.dropped == [
        "generationConfig.newKnob", "futureField", "safetySettings", "contents[0].parts[0].videoMetadata",
        "generationConfig.mediaResolution", "generationConfig.topK",
      ])
    #expect(
      result.warnings.headerValue
        == "dropped=generationConfig.newKnob,futureField,safetySettings,contents[0].parts[0].videoMetadata,generationConfig.mediaResolution,generationConfig.topK"
    )
    // Duplicate members: every copy of a known name counts as read (the first is the value), every copy of an
    // unknown one is reported; a snake_case spelling reads as its camelCase field.
    let duplicates = try GeminiRequest.decode(
      trJSON(
        #"{"contents":[{"parts":[{"text":"a","text":"b"}]}],"odd":1,"odd":2,"generation_config":{"top_p":0.5}}"#))
    #expect(duplicates.unknownFields == ["odd", "odd"])
    #expect(duplicates.contents.first?.parts.first?.payload == .text("a"))
    var warnings = TranslationWarnings()
    warnings.drop("a,b\r\nx")
    warnings.approximate("c")
    #expect(warnings.headerValue == "dropped=a?b??x; approximated=c")
  }
}

@Suite struct TranslationRequestTests {
  @Test func textMultiTurnWithSystemAndConfig() throws {
    let result = try trTranslate(
      #"""
      {"systemInstruction":{"role":"user","parts":[{"text":"Line 1"},{"text":"Line 2"}]},
       "contents":[{"role":"user","parts":[{"text":"Hello "},{"text":"there"}]},
                   {"role":"model","parts":[{"text":"thinking","thought":true},{"text":"Hi!"}]},
                   {"parts":[{"text":"Bye"}]}],
       "generationConfig":{"temperature":0.5,"topP":0.9,"maxOutputTokens":100,"stopSequences":["END"],
         "presencePenalty":0.1,"frequencyPenalty":0.2,"seed":7,"candidateCount":2}}
      """#, stream: true)
    #expect(
      String(decoding: result.bodyBytes, as: UTF8.self)
        == #"{"model":"gpt-4o","messages":[{"role":"system","content":"Line 1\nLine 2"},{"role":"user","content":"Hello there"},{"role":"assistant","content":"Hi!"},{"role":"user","content":"Bye"}],"temperature":0.5,"top_p":0.9,"n":2,"max_completion_tokens":100,"stop":["END"],"presence_penalty":0.1,"frequency_penalty":0.2,"seed":7,"stream":true,"stream_options":{"include_usage":true}}"#
    )
    #expect(result.warnings.isEmpty)
  }

  @Test func dialectOptions() throws {
    let body =
      #"{"contents":[{"parts":[{"text":"x"}]}],"systemInstruction":{"parts":[{"text":"s"}]},"generationConfig":{"maxOutputTokens":5,"topK":4}}"#
    var dialect = OpenAIDialect.vllm
    dialect.supportsStreamOptions = false
    dialect.usesDeveloperRole = true
    let result = try trTranslate(body, dialect: dialect, stream: true)
    #expect(
      String(decoding: result.bodyBytes, as: UTF8.self)
        == #"{"model":"gpt-4o","messages":[{"role":"developer","content":"s"},{"role":"user","content":"x"}],"top_k":4,"max_tokens":5,"stream":true}"#
    )
    let openAI = try trTranslate(body)
    #expect(try openAI.body["top_k"] == nil)
    #expect(try openAI.body["max_completion_tokens"] == 5)
    #expect(try openAI.body["stream"] == nil)
    #expect(openAI.warnings.dropped == ["generationConfig.topK"])
  }

  @Test func limitsThatWouldChangeTheAnswerAre400() throws {
    let five = #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"stopSequences":["a","b","c","d","e"]}}"#
    #expect(
      try trTranslateError(five)
        == "generationConfig.stopSequences: this backend accepts at most 4 stop sequences, got 5"
    )
    #expect(try trTranslateError(five, dialect: .vllm) == nil)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"candidateCount":3}}"#, dialect: .ollama)
        == "generationConfig.candidateCount: this backend returns only one candidate per request")
    #expect(try trTranslateError(#"{"contents":[]}"#) == "contents: must not be empty")
    #expect(
      try trTranslateError(#"{"contents":[{"parts":[{"text":"x"}]}],"cachedContent":"cachedContents/1"}"#)?.hasPrefix(
        "cachedContent:") == true)
    #expect(
      try trTranslateError(#"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"googleSearch":{}}]}"#)
        == "tools[0].googleSearch: this Gemini built-in tool is not available on OpenAI-compatible backends")
    var dropping = OpenAIDialect.openAI
    dropping.dropsUnsupportedTools = true
    let dropped = try trTranslate(
      #"{"contents":[{"parts":[{"text":"x"}]}],"tools":[{"codeExecution":{}}]}"#, dialect: dropping)
    #expect(dropped.warnings.dropped == ["tools[0].codeExecution"])
    #expect(try dropped.body["tools"] == nil)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseModalities":["TEXT","IMAGE"]}}"#)
        == "generationConfig.responseModalities: only TEXT output is available on OpenAI-compatible backends")
    #expect(
      try trTranslateError(#"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"speechConfig":{}}}"#)?
        .hasPrefix(
          "generationConfig.speechConfig:") == true)
    #expect(
      try trTranslateError(#"{"contents":[{"role":"system","parts":[{"text":"x"}]}]}"#)
        == #"contents[0].role: must be "user" or "model", got "system""#)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"text":"x"}]}],"systemInstruction":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}"#
      )
        == "systemInstruction.parts[0]: only text parts are supported in the system instruction")
  }

  @Test func thinkingConfig() throws {
    func effort(_ config: String, dialect: OpenAIDialect = .openAI) throws -> OpenAIChatRequest {
      try trTranslate(
        #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"thinkingConfig":\#(config)}}"#, dialect: dialect)
    }
    #expect(try effort(#"{"thinkingLevel":"HIGH"}"#).body["reasoning_effort"] == "high")
    #expect(try effort(#"{"thinkingBudget":0}"#).body["reasoning_effort"] == "none")
    #expect(try effort(#"{"thinkingBudget":1024}"#).body["reasoning_effort"] == "low")
    #expect(try effort(#"{"thinkingBudget":8192}"#).body["reasoning_effort"] == "medium")
    #expect(try effort(#"{"thinkingBudget":8193}"#).body["reasoning_effort"] == "high")
    #expect(try effort(#"{"thinkingBudget":-1}"#).body["reasoning_effort"] == nil)
    #expect(
      try effort(#"{"thinkingBudget":500}"#).warnings.approximated == ["generationConfig.thinkingConfig.thinkingBudget"]
    )
    let generic = try effort(#"{"thinkingLevel":"LOW","includeThoughts":true}"#, dialect: .generic)
    #expect(try generic.body["reasoning_effort"] == nil)
    #expect(generic.warnings.dropped == ["generationConfig.thinkingConfig"])
    #expect(generic.includeThoughts)
    #expect(try effort(#"{"includeThoughts":true}"#, dialect: .generic).warnings.isEmpty)
  }

  @Test func logprobs() throws {
    let result = try trTranslate(
      #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseLogprobs":true,"logprobs":3}}"#)
    #expect(try result.body["logprobs"] == true)
    #expect(try result.body["top_logprobs"] == 3)
  }

  /// The body is written as bytes, not serialised from a tree: every member, in order, and text with quotes,
  /// backslashes, control characters and non-ASCII reads back as sent, wherever the translation copies it.
  @Test func bodyBytesKeepMemberOrderAndReadBackAsSent() throws {
    let hostile = "q\"b\\s\n\r\t\u{0}\u{1F}\u{7F}é😀\u{2028}"
    let text = JSONValue.string(hostile)
    let request: JSONValue = .object([
      JSONMember("systemInstruction", .object([JSONMember("parts", [.object([JSONMember("text", text)])])])),
      JSONMember(
        "contents",
        [
          .object([JSONMember("role", "user"), JSONMember("parts", [.object([JSONMember("text", text)])])]),
          .object([
            JSONMember("role", "model"),
            JSONMember(
              "parts",
              [
                .object([
                  JSONMember(
                    "functionCall",
                    .object([JSONMember("name", "f"), JSONMember("args", .object([JSONMember("q", text)]))]))
                ])
              ]),
          ]),
          .object([
            JSONMember(
              "parts",
              [
                .object([
                  JSONMember("functionResponse", .object([JSONMember("name", "f"), JSONMember("response", text)]))
                ]),
                .object([JSONMember("text", text)]),
                .object([
                  JSONMember("inlineData", .object([JSONMember("mimeType", "image/png"), JSONMember("data", "AAAA")]))
                ]),
              ])
          ]),
        ]),
      JSONMember(
        "tools",
        [
          .object([
            JSONMember(
              "functionDeclarations", [.object([JSONMember("name", "f"), JSONMember("description", text)])])
          ])
        ]),
      JSONMember("toolConfig", .object([JSONMember("functionCallingConfig", .object([JSONMember("mode", "ANY")]))])),
      JSONMember(
        "generationConfig",
        .object([
          JSONMember("temperature", 0.3), JSONMember("stopSequences", [text]),
          JSONMember("responseMimeType", "application/json"),
        ])),
    ])
    let result = try trTranslate(request.serialized(), stream: true)
    let body = try result.body
    #expect(
      body.objectValue?.map(\.key) == [
        "model", "messages", "tools", "tool_choice", "temperature", "stop", "response_format", "stream",
        "stream_options",
      ])
    let messages = try #require(body["messages"]?.arrayValue)
    #expect(messages.compactMap { $0["role"]?.stringValue } == ["system", "user", "assistant", "tool", "user"])
    #expect(messages[0]["content"] == text)
    #expect(messages[1]["content"] == text)
    #expect(messages[2]["content"] == .null)
    let call = try #require(messages[2]["tool_calls"]?.arrayValue?.first)
    #expect(call["id"] == "call_1_0")
    #expect(try call["function"]?["arguments"]?.stringValue.map(trJSON) == .object([JSONMember("q", text)]))
    #expect(messages[3]["tool_call_id"] == "call_1_0")
    #expect(messages[3]["content"] == text)
    #expect(
      messages[4]["content"]?.serialized()
        == #"[{"type":"text","text":"# + text.serialized()
        + #"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]"#)
    #expect(body["tools"]?.arrayValue?.first?["function"]?["description"] == text)
    #expect(body["tool_choice"] == "required")
    #expect(body["temperature"] == 0.3)
    #expect(body["stop"] == [text])
    #expect(body["response_format"]?.serialized() == #"{"type":"json_object"}"#)
    #expect(body["stream_options"]?.serialized() == #"{"include_usage":true}"#)
  }
}

@Suite struct TranslationToolRequestTests {
  @Test func declarationsAndChoiceModes() throws {
    let tools = #"""
      "tools":[{"functionDeclarations":[
        {"name":"get_weather","description":"Weather","parameters":{"type":"OBJECT","properties":{"city":{"type":"STRING","description":"City"}},"required":["city"],"propertyOrdering":["city"]}},
        {"name":"get_time","parametersJsonSchema":{"type":"object","properties":{"tz":{"type":"string"}},"additionalProperties":false}},
        {"name":"noop"}]}]
      """#
    func run(_ config: String) throws -> OpenAIChatRequest {
      try trTranslate(#"{"contents":[{"parts":[{"text":"x"}]}],\#(tools)\#(config)}"#)
    }
    let auto = try run(#","toolConfig":{"functionCallingConfig":{"mode":"AUTO"}}"#)
    #expect(
      try auto.body["tools"]?.serialized()
        == #"[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string","description":"City"}},"required":["city"]}}},{"type":"function","function":{"name":"get_time","parameters":{"type":"object","properties":{"tz":{"type":"string"}},"additionalProperties":false}}},{"type":"function","function":{"name":"noop","parameters":{"type":"object","properties":{}}}}]"#
    )
    #expect(try auto.body["tool_choice"] == "auto")
    #expect(try run(#","toolConfig":{"functionCallingConfig":{"mode":"NONE"}}"#).body["tool_choice"] == "none")
    #expect(try run("").body["tool_choice"] == nil)
    let anyAll = try run(#","toolConfig":{"functionCallingConfig":{"mode":"ANY"}}"#)
    #expect(try anyAll.body["tool_choice"] == "required")
    #expect(try anyAll.body["tools"]?.arrayValue?.count == 3)
    let anyOne = try run(#","toolConfig":{"functionCallingConfig":{"mode":"any","allowedFunctionNames":["get_time"]}}"#)
    #expect(try anyOne.body["tool_choice"]?.serialized() == #"{"type":"function","function":{"name":"get_time"}}"#)
    #expect(try anyOne.body["tools"]?.arrayValue?.count == 1)
    let anyTwo = try run(
      #","toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_time","noop"]}}"#)
    #expect(try anyTwo.body["tool_choice"] == "required")
    #expect(
      try anyTwo.body["tools"]?.arrayValue?.compactMap { $0["function"]?["name"]?.stringValue } == ["get_time", "noop"])
    let validated = try run(#","toolConfig":{"functionCallingConfig":{"mode":"VALIDATED"}}"#)
    #expect(try validated.body["tool_choice"] == "auto")
    #expect(validated.warnings.approximated == ["toolConfig.functionCallingConfig.mode"])
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"text":"x"}]}],\#(tools),"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["nope"]}}}"#
      )
        == #"toolConfig.functionCallingConfig.allowedFunctionNames: "nope" is not a declared function"#)
  }

  /// The Python SDK's AFC history: calls without ids, responses without ids, paired by name and order.
  @Test func functionCallHistoryPairsByNameAndOrder() throws {
    let result = try trTranslate(
      #"""
      {"contents":[
        {"role":"user","parts":[{"text":"Weather and time?"}]},
        {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"name":"get_time"}}]},
        {"role":"user","parts":[{"functionResponse":{"name":"get_time","response":{"result":"12:00"}}},{"functionResponse":{"name":"get_weather","response":{"result":"sunny"}}},{"text":"thanks"}]},
        {"role":"model","parts":[{"text":"Sunny, noon."},{"functionCall":{"id":"c9","name":"log","args":{}}}]},
        {"role":"function","parts":[{"functionResponse":{"id":"c9","name":"log","response":{"ok":true}}}]}
      ]}
      """#)
    #expect(
      try result.body["messages"]?.serialized()
        == #"[{"role":"user","content":"Weather and time?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1_0","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},{"id":"call_1_1","type":"function","function":{"name":"get_time","arguments":"{}"}}]},{"role":"tool","tool_call_id":"call_1_1","content":"{\"result\":\"12:00\"}"},{"role":"tool","tool_call_id":"call_1_0","content":"{\"result\":\"sunny\"}"},{"role":"user","content":"thanks"},{"role":"assistant","content":"Sunny, noon.","tool_calls":[{"id":"c9","type":"function","function":{"name":"log","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c9","content":"{\"ok\":true}"}]"#
    )
  }

  @Test func positionalPairingAndUnmatchedResponses() throws {
    let positional = try trTranslate(
      #"{"contents":[{"role":"model","parts":[{"functionCall":{"id":"a","name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"renamed","response":{}}}]}]}"#
    )
    #expect(try positional.body["messages"]?.arrayValue?.last?["tool_call_id"] == "a")
    #expect(
      try trTranslateError(#"{"contents":[{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}}]}]}"#)
        == #"contents[0].parts[0]: functionResponse "f" has no matching functionCall in the preceding model turn"#)
    #expect(
      try trTranslateError(
        #"{"contents":[{"role":"model","parts":[{"functionCall":{"name":"f"}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{}}},{"functionResponse":{"name":"f","response":{}}}]}]}"#
      ) == #"contents[1].parts[1]: functionResponse "f" has no matching functionCall in the preceding model turn"#)
  }

  @Test func codeExecutionPartsAreRenderedAsText() throws {
    let result = try trTranslate(
      #"{"contents":[{"role":"model","parts":[{"executableCode":{"language":"PYTHON","code":"print(1)"}},{"codeExecutionResult":{"outcome":"OUTCOME_OK","output":"1"}}]},{"parts":[{"text":"ok"}]}]}"#
    )
    #expect(
      try result.body["messages"]?.arrayValue?.first?["content"] == "\n```python\nprint(1)\n```\n\n```output\n1\n```\n")
    #expect(
      result.warnings.approximated == [
        "contents[0].parts[0].executableCode", "contents[0].parts[1].codeExecutionResult",
      ])
  }
}

@Suite struct TranslationMediaTests {
  private func parts(_ part: String) throws -> JSONValue? {
    try trTranslate(#"{"contents":[{"parts":[{"text":"look"},\#(part)]}]}"#).body["messages"]?.arrayValue?.first?[
      "content"]
  }

  @Test func imagesAudioAndPDF() throws {
    #expect(
      try parts(#"{"inline_data":{"mime_type":"image/jpeg","data":"_-8"}}"#)?.serialized()
        == #"[{"type":"text","text":"look"},{"type":"image_url","image_url":{"url":"data:image/jpeg;base64,/+8="}}]"#)
    #expect(
      try parts(#"{"inlineData":{"mimeType":"audio/mpeg","data":"AAAA"}}"#)?.arrayValue?.last?.serialized()
        == #"{"type":"input_audio","input_audio":{"data":"AAAA","format":"mp3"}}"#)
    #expect(
      try parts(#"{"inlineData":{"mimeType":"audio/wav","data":"AAAA"}}"#)?.arrayValue?.last?["input_audio"]?["format"]
        == "wav")
    #expect(
      try parts(#"{"inlineData":{"mimeType":"application/pdf","data":"AAAA"}}"#)?.arrayValue?.last?.serialized()
        == #"{"type":"file","file":{"filename":"document.pdf","file_data":"data:application/pdf;base64,AAAA"}}"#)
    #expect(
      try parts(#"{"fileData":{"mimeType":"image/png","fileUri":"https://example.com/a.png"}}"#)?.arrayValue?.last?
        .serialized() == #"{"type":"image_url","image_url":{"url":"https://example.com/a.png"}}"#)
    #expect(
      try parts(#"{"fileData":{"fileUri":"https://example.com/a.webp?x=1"}}"#)?.arrayValue?.last?["type"] == "image_url"
    )
  }

  @Test func unsupportedMediaIs400SayingWhatAndWhy() throws {
    #expect(
      try trTranslateError(#"{"contents":[{"parts":[{"inlineData":{"mimeType":"video/mp4","data":"AAAA"}}]}]}"#)
        == #"contents[0].parts[0]: inlineData with mimeType "video/mp4" is not supported by OpenAI-compatible backends (supported: image/*, audio/wav, audio/mp3, application/pdf)"#
    )
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"fileData":{"mimeType":"image/png","fileUri":"https://generativelanguage.googleapis.com/v1beta/files/abc"}}]}]}"#
      )?.hasPrefix("contents[0].parts[0]: fileData.fileUri") == true)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"fileData":{"mimeType":"image/png","fileUri":"gs://b/x.png"}}]}]}"#)?
        .hasPrefix(#"contents[0].parts[0]: fileData.fileUri "gs://b/x.png" cannot be fetched"#) == true)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"fileData":{"mimeType":"video/mp4","fileUri":"https://x/v.mp4"}}]}]}"#)
        == #"contents[0].parts[0]: fileData with mimeType "video/mp4" is not supported by OpenAI-compatible backends (only image URLs can be passed by reference)"#
    )
  }
}

@Suite struct TranslationJSONModeTests {
  private func format(_ config: String) throws -> JSONValue? {
    try trTranslate(#"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":\#(config)}"#).body["response_format"]
  }

  @Test func jsonObjectAndSchemas() throws {
    #expect(try format(#"{"responseMimeType":"application/json"}"#)?.serialized() == #"{"type":"json_object"}"#)
    #expect(try format(#"{"responseMimeType":"text/plain"}"#) == nil)
    #expect(
      try format(
        #"{"response_mime_type":"application/json","response_json_schema":{"type":"object","properties":{"a":{"type":"integer"}}}}"#
      )?
      .serialized()
        == #"{"type":"json_schema","json_schema":{"name":"response","schema":{"type":"object","properties":{"a":{"type":"integer"}}},"strict":false}}"#
    )
    #expect(
      try format(
        #"{"responseMimeType":"application/json","responseSchema":{"type":"ARRAY","items":{"type":"STRING","enum":["a","b"],"format":"enum"},"minItems":1}}"#
      )?[
        "json_schema"]?["schema"]?.serialized()
        == #"{"type":"array","items":{"type":"string","enum":["a","b"]},"minItems":1}"#)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseSchema":{"type":"STRING"}}}"#)
        == #"generationConfig.responseSchema: a response schema requires responseMimeType "application/json""#)
    #expect(
      try trTranslateError(
        #"{"contents":[{"parts":[{"text":"x"}]}],"generationConfig":{"responseMimeType":"text/x.enum"}}"#)?
        .hasPrefix("generationConfig.responseMimeType: text/x.enum") == true)
  }

  @Test func geminiSchemaToJSONSchema() throws {
    let converted = try SchemaConverter.jsonSchema(
      fromGemini: trJSON(
        #"""
        {"type":"object","title":"T","description":"D","nullable":false,"propertyOrdering":["b","a"],"example":{"a":1},
         "properties":{"a":{"type":"INTEGER","format":"int32","minimum":0,"maximum":9,"nullable":true},
                       "b":{"type":"string","enum":["x","y"],"nullable":true,"min_length":1,"max_length":3,"pattern":"^[xy]$"},
                       "c":{"any_of":[{"type":"NUMBER"},{"type":"BOOLEAN"}],"default":1},
                       "d":{"type":"ARRAY","items":{"type":"OBJECT","properties":{},"min_properties":0,"max_properties":2},"maxItems":4}},
         "required":["a"]}
        """#), path: "p")
    #expect(
      converted.serialized()
        == #"{"type":"object","title":"T","description":"D","properties":{"a":{"type":["integer","null"],"format":"int32","minimum":0,"maximum":9},"b":{"type":["string","null"],"enum":["x","y",null],"minLength":1,"maxLength":3,"pattern":"^[xy]$"},"c":{"anyOf":[{"type":"number"},{"type":"boolean"}],"default":1},"d":{"type":"array","items":{"type":"object","properties":{},"minProperties":0,"maxProperties":2},"maxItems":4}},"required":["a"]}"#
    )
    #expect(throws: GeminiRequestError.self) {
      try SchemaConverter.jsonSchema(fromGemini: trJSON(#"{"type":"WHAT"}"#), path: "p")
    }
    #expect(throws: GeminiRequestError.self) { try SchemaConverter.jsonSchema(fromGemini: "x", path: "p") }
  }
}
