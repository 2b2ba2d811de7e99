-- wrk: POST a small Gemini generateContent body (louter; the model is in the URL path).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"contents":[{"role":"user","parts":[{"text":"Say hello"}]}]}'
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
