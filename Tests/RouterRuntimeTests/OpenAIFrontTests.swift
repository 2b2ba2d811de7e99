import RouteSpec
import Testing

@testable import RouteCompiler
@testable import RouterRuntime

private func json(_ text: String) throws -> JSONValue { try JSONParser.parse(Array(text.utf8)) }

@Suite struct OpenAIFrontRequestTests {
  @Test func goldenRequestTranslation() throws {
    let body = try json(
      #"""
      {"model":"m","messages":[
        {"role":"system","content":"Be brief."},
        {"role":"developer","content":[{"type":"text","text":"Use metric."}]},
        {"role":"user","content":[{"type":"text","text":"Weather?"},
          {"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA","detail":"low"}}]},
        {"role":"assistant","content":null,"tool_calls":[
          {"id":"call_abc","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
          {"id":"call_def","type":"function","function":{"name":"get_weather","arguments":""}}]},
        {"role":"tool","tool_call_id":"call_def","content":"18C"},
        {"role":"tool","tool_call_id":"call_abc","content":"{\"temp\":21}"},
        {"role":"user","content":"Thanks"}],
       "tools":[{"type":"function","function":{"name":"get_weather","description":"d",
         "parameters":{"type":"object","additionalProperties":false},"strict":true}}],
       "tool_choice":{"type":"function","function":{"name":"get_weather"}},
       "response_format":{"type":"json_schema","json_schema":{"name":"W","schema":{"type":"object"}}},
       "max_tokens":100,"max_completion_tokens":50,"temperature":0.5,"top_p":0.9,"stop":"END","seed":7,
       "logit_bias":{"1":2},"user":"u1","stream":false}
      """#)
    let translated = try OpenAIFrontRequest.translate(body, model: "gemini-2.5-flash")
    let expected = try json(
      #"""
      {"contents":[
        {"role":"user","parts":[{"text":"Weather?"},{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]},
        {"role":"model","parts":[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},
                                 {"functionCall":{"name":"get_weather","args":{}}}]},
        {"role":"user","parts":[{"functionResponse":{"name":"get_weather","response":{"temp":21}}},
                                {"functionResponse":{"name":"get_weather","response":{"output":"18C"}}},
                                {"text":"Thanks"}]}],
       "systemInstruction":{"parts":[{"text":"Be brief."},{"text":"Use metric."}]},
       "tools":[{"functionDeclarations":[{"name":"get_weather","description":"d",
         "parametersJsonSchema":{"type":"object","additionalProperties":false}}]}],
       "toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["get_weather"]}},
       "generationConfig":{"maxOutputTokens":50,"temperature":0.5,"topP":0.9,"seed":7,"stopSequences":["END"],
         "responseMimeType":"application/json","responseJsonSchema":{"type":"object"}}}
      """#)
    #expect(translated.body == expected)
    #expect(translated.warnings.dropped == ["logit_bias", "user", "tools[0].function.strict"])
  }

  @Test func thoughtSignaturesMakeTheRoundTrip() throws {
    let answer = try json(
      #"{"candidates":[{"content":{"parts":[{"functionCall":{"name":"f","args":{}},"thoughtSignature":"U0lH"}]}}]}"#)
    let completion = try OpenAIFrontResponse.completion(
      answer, identity: OpenAIAnswerIdentity(id: "c", created: 0, model: "m")
    ) { "call_1" }
    let message = try #require(completion["choices"]?.arrayValue?.first?["message"])
    let call = try #require(message["tool_calls"]?.arrayValue?.first)
    #expect(call["extra_content"] == .object(["google": .object(["thought_signature": "U0lH"])]))
    let history: JSONValue = .object([
      "messages": .array([
        .object(["role": "user", "content": "x"]), message,
        .object(["role": "tool", "tool_call_id": "call_1", "content": "ok"]),
      ])
    ])
    let request = try OpenAIFrontRequest.translate(history, model: "gemini-3-pro")
    let part = request.body["contents"]?.arrayValue?[1]["parts"]?.arrayValue?.first
    #expect(part?["thoughtSignature"] == "U0lH")
  }

  @Test func allowedToolsLimitTheDeclarations() throws {
    let body = try json(
      #"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"a"}},"#
        + #"{"type":"function","function":{"name":"b"}}],"tool_choice":{"type":"allowed_tools","#
        + #""allowed_tools":{"mode":"auto","tools":[{"type":"function","function":{"name":"b"}}]}}}"#)
    let translated = try OpenAIFrontRequest.translate(body, model: "m")
    #expect(translated.body["tools"] == [.object(["functionDeclarations": [.object(["name": "b"])]])])
    #expect(translated.body["toolConfig"] == .object(["functionCallingConfig": .object(["mode": "AUTO"])]))
  }

  @Test func reasoningEffortPicksTheModelFamilysKnob() throws {
    let body = try json(#"{"model":"m","messages":[{"role":"user","content":"x"}],"reasoning_effort":"low"}"#)
    let flash = try OpenAIFrontRequest.translate(body, model: "gemini-2.5-flash")
    #expect(flash.body["generationConfig"]?["thinkingConfig"] == .object(["thinkingBudget": 1024]))
    let three = try OpenAIFrontRequest.translate(body, model: "gemini-3-pro")
    #expect(three.body["generationConfig"]?["thinkingConfig"] == .object(["thinkingLevel": "LOW"]))
    #expect(three.warnings.approximated == ["reasoning_effort"])
  }

  @Test func refusesWhatWouldChangeTheAnswer() throws {
    let cases = [
      #"{"messages":[{"role":"user","content":"x"}],"modalities":["text","audio"]}"#,
      #"{"messages":[{"role":"user","content":"x"}],"functions":[{"name":"f"}]}"#,
      #"{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom","custom":{"name":"c"}}]}"#,
      #"{"messages":[{"role":"user","content":"x"}],"n":2,"stream":true}"#,
      #"{"messages":[{"role":"tool","tool_call_id":"call_nowhere","content":"x"}]}"#,
      #"{"messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"[1]"}}]}]}"#,
      #"{"messages":[{"role":"user","content":[{"type":"file","file":{"file_id":"f"}}]}]}"#,
      #"{"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e","f"]}"#,
      #"{"messages":[{"role":"user","content":"x"}],"max_tokens":1e300}"#,
    ]
    for text in cases {
      #expect(throws: GeminiRequestError.self, "\(text)") { try OpenAIFrontRequest.translate(json(text), model: "m") }
    }
  }
}

@Suite struct OpenAIFrontResponseTests {
  let identity = OpenAIAnswerIdentity(id: "chatcmpl-r", created: 1_700_000_000, model: "gem")

  @Test func goldenCompletion() throws {
    let answer = try json(
      #"""
      {"candidates":[{"content":{"role":"model","parts":[{"text":"thinking","thought":true},{"text":"Let me check."},
        {"functionCall":{"name":"get_weather","args":{"city":"Paris"}}},{"functionCall":{"name":"get_weather"}}]},
        "finishReason":"STOP","index":0}],
       "usageMetadata":{"promptTokenCount":40,"candidatesTokenCount":22,"thoughtsTokenCount":90,"totalTokenCount":152,
         "cachedContentTokenCount":8}}
      """#)
    var ids = ["call_1", "call_2"].makeIterator()
    let completion = try OpenAIFrontResponse.completion(answer, identity: identity) { ids.next() ?? "" }
    let expected = try json(
      #"""
      {"id":"chatcmpl-r","object":"chat.completion","created":1700000000,"model":"gem","choices":[{"index":0,
        "message":{"role":"assistant","content":"Let me check.","refusal":null,"tool_calls":[
          {"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
          {"id":"call_2","type":"function","function":{"name":"get_weather","arguments":"{}"}}]},
        "finish_reason":"tool_calls","logprobs":null}],
       "usage":{"prompt_tokens":40,"completion_tokens":112,"total_tokens":152,
         "prompt_tokens_details":{"cached_tokens":8},"completion_tokens_details":{"reasoning_tokens":90}}}
      """#)
    #expect(completion == expected)
  }

  @Test func logprobsAreMapped() throws {
    let result = try json(
      #"{"chosenCandidates":[{"token":"Hi","logProbability":-0.5}],"#
        + #""topCandidates":[{"candidates":[{"token":"Hi","logProbability":-0.5},{"token":"Yo","logProbability":-2}]}]}"#
    )
    #expect(
      OpenAIFrontResponse.logprobs(result).serialized()
        == #"{"content":[{"token":"Hi","logprob":-0.5,"bytes":null,"top_logprobs":["#
        + #"{"token":"Hi","logprob":-0.5,"bytes":null},{"token":"Yo","logprob":-2.0,"bytes":null}]}]}"#)
    #expect(OpenAIFrontResponse.logprobs(nil) == .null)
  }

  @Test func finishReasonsAndBlockedPrompt() throws {
    #expect(OpenAIFrontResponse.finishReason("MAX_TOKENS", sawCall: false) == "length")
    #expect(OpenAIFrontResponse.finishReason("SAFETY", sawCall: true) == "content_filter")
    #expect(OpenAIFrontResponse.finishReason("STOP", sawCall: true) == "tool_calls")
    #expect(OpenAIFrontResponse.finishReason("OTHER", sawCall: false) == "stop")
    let blocked = try json(#"{"promptFeedback":{"blockReason":"SAFETY"}}"#)
    #expect(throws: GeminiError.self) { try OpenAIFrontResponse.completion(blocked, identity: identity) { "" } }
  }

  @Test func goldenStream() throws {
    var stream = OpenAIFrontStream(identity: identity, includeUsage: true)
    var ids = ["call_a", "call_b"].makeIterator()
    var chunks: [JSONValue] = []
    for event in [
      #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hi"}]},"index":0}]}"#,
      #"""
      {"candidates":[{"content":{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}}},
        {"functionCall":{"name":"f","args":{}}}]},"finishReason":"STOP","index":0}],
       "usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7}}
      """#,
    ] {
      #expect(!stream.isComplete)
      chunks += try stream.consume(json(event)) { ids.next() ?? "" }
    }
    #expect(stream.isComplete)
    chunks += stream.finish()
    let head = #""id":"chatcmpl-r","object":"chat.completion.chunk","created":1700000000,"model":"gem""#
    let expected = [
      #"{\#(head),"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null,"logprobs":null}],"usage":null}"#,
      #"{\#(head),"choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null,"logprobs":null}],"usage":null}"#,
      #"{\#(head),"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_a","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}},{"index":1,"id":"call_b","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":null,"logprobs":null}],"usage":null}"#,
      #"{\#(head),"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls","logprobs":null}],"usage":null}"#,
      #"{\#(head),"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"total_tokens":7,"prompt_tokens_details":{"cached_tokens":0},"completion_tokens_details":{"reasoning_tokens":0}}}"#,
    ]
    #expect(chunks.map { $0.serialized() } == expected)
  }

  @Test func errorShapeAndRetryAfter() {
    let error = GeminiError(
      .resourceExhausted, message: "slow down",
      details: [.object(["@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.500s"])])
    #expect(
      OpenAIWire.errorJSON(error).serialized()
        == #"{"error":{"message":"slow down","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}"#)
    #expect(OpenAIWire.retryAfterHeaders(error).map(\.1) == ["2"])
    #expect(OpenAIWire.errorType(status: 401) == "authentication_error")
    #expect(OpenAIWire.errorType(status: 503) == "server_error")
    #expect(OpenAIWire.retryAfterHeaders(.unavailable("x")).isEmpty)
  }
}

@Suite struct OpenAIFrontEmbeddingsTests {
  @Test func goldenEmbeddingsBothWays() throws {
    let body = try json(#"{"model":"e","input":["a","b"],"encoding_format":"base64","dimensions":2,"user":"u"}"#)
    let request = try OpenAIFrontEmbeddings.geminiRequest(body, model: "text-embedding-004")
    let part = #"{"parts":[{"text":"a"}]}"#
    #expect(
      request.body.serialized()
        == #"{"requests":[{"model":"models/text-embedding-004","content":\#(part),"outputDimensionality":2},"#
        + #"{"model":"models/text-embedding-004","content":{"parts":[{"text":"b"}]},"outputDimensionality":2}]}"#)
    #expect(request.base64 && request.count == 2 && request.warnings.dropped == ["user"])
    let answer = try json(#"{"embeddings":[{"values":[1.5,-2]},{"values":[0,1]}]}"#)
    let out = try OpenAIFrontEmbeddings.openAIResponse(answer, request: request, model: "e", estimatedTokens: 2)
    // 1.5 = 0x3FC00000, -2 = 0xC0000000, little-endian float32.
    #expect(out["data"]?.arrayValue?.first?["embedding"] == .string("AADAPwAAAMA="))
    #expect(out["usage"]?["total_tokens"] == .int(2))
    let short = try json(#"{"embeddings":[{"values":[1]}]}"#)
    #expect(throws: GeminiError.self) {
      try OpenAIFrontEmbeddings.openAIResponse(short, request: request, model: "e", estimatedTokens: 0)
    }
    #expect(throws: GeminiRequestError.self) {
      try OpenAIFrontEmbeddings.geminiRequest(json(#"{"model":"e","input":[[1,2]]}"#), model: "m")
    }
  }
}

@Suite struct OpenAIPassthroughStreamTests {
  private func event(_ text: String) -> [UInt8] { Array("data: \(text)\n\n".utf8) }

  @Test func backendErrorBeforeTheFirstChunkIsTheHopsFailure() {
    var form = OpenAIPassthroughStreamForm(backend: "b")
    let piece = form.feed(event(#"{"error":{"message":"boom","type":"server_error","code":null}}"#))
    #expect(piece.answers.isEmpty, "nothing may commit the stream: the chain goes on")
    #expect(piece.failure != nil)
    #expect(!form.errorBytes(.unavailable("x")).isEmpty)
  }

  @Test func backendErrorAfterAChunkIsRelayedOnce() {
    var form = OpenAIPassthroughStreamForm(backend: "b")
    let first = form.feed(event(#"{"choices":[{"index":0,"delta":{"content":"Hi"}}]}"#))
    #expect(first.answers.count == 1 && first.failure == nil)
    #expect(Exchange.textBytes(first.answers[0].json) == 2, "the record estimates tokens from the text")
    let broken = form.feed(event(#"{"error":{"message":"boom"}}"#))
    #expect(broken.failure != nil && String(decoding: broken.bytes, as: UTF8.self).contains("boom"))
    #expect(form.errorBytes(.unavailable("x")).isEmpty, "the backend's own error event was relayed")
  }

  @Test func aStreamWithoutDoneEndsWithAnError() {
    var cut = OpenAIPassthroughStreamForm(backend: "b")
    _ = cut.feed(event(#"{"choices":[]}"#))
    #expect(cut.feed(nil).failure != nil)
    var whole = OpenAIPassthroughStreamForm(backend: "b")
    let usage = whole.feed(
      event(#"{"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":3}}"#) + event("[DONE]"))
    #expect(
      usage.answers.map(\.json) == [
        .object(["usageMetadata": .object(["promptTokenCount": 2, "candidatesTokenCount": 3, "totalTokenCount": 5])])
      ])
    #expect(whole.feed(nil).failure == nil)
  }

  @Test func recordNamesTheFront() {
    var record = RequestRecord(id: "r")
    record.apply(.front(.openai), started: .now)
    record.apply(.call(method: "chat.completions", model: "m"), started: .now)
    #expect(record.line.contains("chat.completions model=m front=openai"))
    #expect(record.json["front"] == "openai")
    #expect(!RequestRecord(id: "g").line.contains("front="))
  }
}

@Suite struct OpenAIFrontGatewayTests {
  private func request(_ method: String, _ target: String, _ headers: [(String, String)] = []) -> HTTPRequest {
    HTTPRequest(method: method, target: target, headers: HTTPHeaders(headers.map { (name: $0.0, value: $0.1) }))
  }

  @Test func frontSelectionOnTheSharedPath() {
    #expect(OpenAICall.servesOpenAI(request("POST", "/v1/chat/completions")))
    #expect(OpenAICall.servesOpenAI(request("POST", "/chat/completions")))
    #expect(OpenAICall.servesOpenAI(request("GET", "/v1/models", [("authorization", "Bearer k")])))
    #expect(OpenAICall.servesOpenAI(request("GET", "/v1/models/gpt%2F4o", [("api-key", "k")])))
    #expect(!OpenAICall.servesOpenAI(request("GET", "/v1/models", [("x-goog-api-key", "k")])))
    #expect(!OpenAICall.servesOpenAI(request("GET", "/v1/models?key=k", [("authorization", "Bearer k")])))
    #expect(!OpenAICall.servesOpenAI(request("GET", "/v1/models")))
    #expect(!OpenAICall.servesOpenAI(request("POST", "/v1beta/models/m:generateContent")))
    #expect(OpenAICall.parse(httpMethod: "GET", path: "/v1/models/openai%2Fgpt-4o")?.model == "openai/gpt-4o")
    #expect(OpenAICall.presentedKey(request("GET", "/v1/models", [("api-key", "az")])) == "az")
    #expect(OpenAICall.sendsOpenAICredentials(request("POST", "/v1/completions", [("authorization", "Bearer k")])))
    #expect(!OpenAICall.sendsOpenAICredentials(request("POST", "/v1/x", [("x-goog-api-key", "k")])))
    let azure = OpenAICall.parse(httpMethod: "POST", path: "/openai/deployments/my%2Fdep/chat/completions")
    #expect(azure == OpenAICall(method: .chatCompletions, model: "my/dep"))
    #expect(OpenAICall.parse(httpMethod: "POST", path: "/openai/deployments/d/embeddings")?.method == .embeddings)
    #expect(OpenAICall.parse(httpMethod: "GET", path: "/openai/models")?.method == .listModels)
    #expect(OpenAICall.parse(httpMethod: "POST", path: "/openai/deployments//chat/completions") == nil)
    #expect(OpenAICall.servesOpenAI(request("POST", "/openai/deployments/d/chat/completions?api-version=2024-10-21")))
  }

  @Test func clampOfAHugeClientNumberSaturates() {
    // The OpenAI front clamps the client's top-level numbers: 1e300 once trapped in Int64(_:).
    let rules = [GenerationRule(parameter: .maxOutputTokens, rule: ParameterRule(min: 1))]
    let clamped = RouteActions.generationConfig(
      .object(["max_tokens": 1e300]), rules: rules, names: Exchange.openAINames(maxTokens: "max_tokens"))
    #expect(clamped == .object(["max_tokens": .int(.max)]))
  }

  @Test func passthroughPatchesOnlyWhatActionsChange() throws {
    let original =
      #"{"model":"asked", "messages":[{"role":"system","content":"S"},{"role":"user","content":"U"}], "temperature":1.9, "logprobs":true,"vendor":{"x":[1, 2]}}"#
    let plan = ForwardPlan(
      route: 0, model: "sent", systemPrompt: .append("R"),
      generation: [
        GenerationRule(parameter: .temperature, rule: ParameterRule(max: 1.0)),
        GenerationRule(parameter: .maxOutputTokens, rule: ParameterRule(defaultValue: 64)),
        GenerationRule(parameter: .topK, rule: ParameterRule(defaultValue: 5)),
      ], chain: [], fallbackOn: [], retry: .never, continueOnBreak: true)
    let bytes = Array(original.utf8)
    let patched = try Exchange.openAIPatchedBody(
      bytes, json: json(original), plan: plan, maxTokens: "max_completion_tokens")
    let text = String(decoding: patched, as: UTF8.self)
    #expect(
      text
        == #"{"model":"sent", "messages":[{"role":"system","content":"S"},{"role":"system","content":"R"},{"role":"user","content":"U"}], "temperature":1.0, "logprobs":true,"vendor":{"x":[1, 2]},"max_completion_tokens":64}"#
    )
    let untouched = ForwardPlan(
      route: 0, model: "asked", systemPrompt: nil, generation: [], chain: [], fallbackOn: [], retry: .never,
      continueOnBreak: true)
    #expect(try Exchange.openAIPatchedBody(bytes, json: json(original), plan: untouched, maxTokens: "") == bytes)
  }
}
