-- wrk: POST a small OpenAI chat completion (the static backend and the nginx hop).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"bench-model","messages":[{"role":"user","content":"Say hello"}]}'
dofile(os.getenv("BENCH_DIR") .. "/report.lua")
