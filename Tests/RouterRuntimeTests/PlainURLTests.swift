import Testing

@testable import RouterRuntime

/// `PlainURL`: what our own client reads from a backend's `http://` URL (host, port, request target).
@Suite struct PlainURLTests {
  @Test(arguments: [
    ("http://127.0.0.1:8000/v1/chat/completions", "127.0.0.1", 8000, "/v1/chat/completions"),
    ("HTTP://Example.test/v1?x=1", "Example.test", 80, "/v1?x=1"),
    ("hTtP://host", "host", 80, "/"),
    ("http://[::1]:11434/v1", "[::1]", 11434, "/v1"),
    ("http://[::1]/v1", "[::1]", 80, "/v1"),
    ("http://h:65535?q", "h", 65535, "?q"),
    ("http://h:00080/", "h", 80, "/"),
  ])
  func readsHostPortAndTarget(_ url: String, _ host: String, _ port: Int, _ target: String) throws {
    let parsed = try #require(PlainURL(url))
    #expect(parsed.host == host && parsed.port == port && parsed.pathAndQuery == target)
  }

  @Test(arguments: [
    "https://h/v1", "http:/h/v1", "http//h", "htt://h", "http\u{1A}//h", "ftp://h", "http://", "http:///v1",
    "http://h:/v1", "http://h:0/v1", "http://h:65536/v1", "http://h:123456/v1", "http://h:8a/v1", "http://h:+80/",
    "http://[::1/v1", "http://[::1]x/v1", "http://[::1]:/v1", "http://:80/v1", "http://h:９/v1",
  ])
  func refusesWhatIsNotAPlainHTTPURL(_ url: String) {
    #expect(PlainURL(url) == nil)
  }
}
