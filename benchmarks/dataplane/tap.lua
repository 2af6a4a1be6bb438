-- The gateway's per-request hot path in ngx_lua, to estimate what a compiled data plane would cost.
-- A benchmark setup, not a gateway: benchmarks/README.md lists what it leaves out.
local sha256 = require "nginx.sha256"
local cjson = require "cjson.safe"
local bit = require "bit"

local bor, bxor, byte, find, sub = bit.bor, bit.bxor, string.byte, string.find, string.sub
local ngx = ngx
local metrics, in_flight = ngx.shared.metrics, ngx.shared.in_flight

local M = {}

local MAX_CONCURRENCY = 128  -- per key; above the benchmark's streams, so it is paid but never refuses
-- The vLLM route table's exact canonical paths the benchmark can reach, with their method.
local ROUTES = {
  ["/v1/chat/completions"] = "POST", ["/v1/completions"] = "POST", ["/v1/embeddings"] = "POST",
  ["/v1/models"] = "GET", ["/health"] = "GET",
}
-- Routes whose streamed answers carry OpenAI usage, so the tap asks for it.
local USAGE_ROUTES = { ["/v1/chat/completions"] = true, ["/v1/completions"] = true }
-- The runtime's response headers a client may see (the gateway's RESPONSE_ALLOW, plus nginx's own framing).
local RESPONSE_ALLOW = {
  ["content-type"] = true, ["content-length"] = true, ["content-encoding"] = true, ["cache-control"] = true,
  ["retry-after"] = true, ["x-request-id"] = true, ["transfer-encoding"] = true, ["connection"] = true,
}
local DURATION_BUCKETS = { 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300 }
local TTFT_BUCKETS = { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 10, 30, 60 }
local INJECTED = ',"stream_options":{"include_usage":true}}'

-- The gateway's refusals (errors.py) by rejection reason: OpenAI-shaped, nothing from the request.
local function error_body(status, kind, code, message)
  return { status, '{"error":{"message":"' .. message .. '","type":"' .. kind .. '","param":null,"code":"'
    .. code .. '"}}' }
end
local INVALID = "invalid_request_error"
local REFUSALS = {
  invalid_request_target = error_body(400, INVALID, "invalid_request_target", "The request path is not valid."),
  missing_key = error_body(401, INVALID, "missing_api_key",
    "Missing API key. Send it as 'Authorization: Bearer <key>'."),
  invalid_key = error_body(401, INVALID, "invalid_api_key", "Invalid API key."),
  route_not_found = error_body(404, INVALID, "route_not_found", "This route is not served."),
  method_not_allowed = error_body(405, INVALID, "method_not_allowed", "This method is not allowed on this route."),
  concurrency_limited = error_body(429, "rate_limit_error", "concurrency_limit_exceeded",
    "Too many concurrent requests for this API key. Retry when one finishes."),
  invalid_json_object = error_body(400, INVALID, "invalid_json_object", "The request body must be a JSON object."),
}

local key_ids, key_digests = {}, {}

local function digest(text)
  local hash = sha256:new()
  hash:update(text)
  return hash:final()
end

-- Keep only digests, as the gateway does; read once in the master, before the worker forks.
function M.load_keys(path)
  local file = assert(io.open(path, "rb"))
  for line in file:lines() do
    local id, key = line:match("^([%w_.%-]+):(%S+)$")
    if id then
      key_ids[#key_ids + 1], key_digests[#key_digests + 1] = id, digest(key)
    end
  end
  file:close()
  assert(#key_ids > 0, "no keys in " .. path)
end

-- Compare every byte of every digest, no early exit, so timing does not tell which key or byte differed.
local function key_id_for(presented)
  local presented_digest, found = digest(presented), nil
  for i = 1, #key_digests do
    local known, diff = key_digests[i], 0
    for j = 1, 32 do diff = bor(diff, bxor(byte(presented_digest, j), byte(known, j))) end
    if diff == 0 then found = key_ids[i] end
  end
  return found
end

local function refuse(ctx, reason)
  local status, body = REFUSALS[reason][1], REFUSALS[reason][2]
  ctx.reason = reason
  ngx.status = status
  ngx.header["Content-Type"] = "application/json"
  ngx.print(body)
  return ngx.exit(status)
end

-- What is checked must be what is forwarded: refuse any raw path nginx would rewrite.
local function canonical_path()
  local raw, path = ngx.var.request_uri, ngx.var.uri
  local query = find(raw, "?", 1, true)
  return (query and sub(raw, 1, query - 1) or raw) == path and path or nil
end

-- Headers a Connection header names are hop-by-hop for this message and never reach the runtime.
local function drop_connection_named()
  local named = ngx.var.http_connection
  if not named then return end
  for name in named:gmatch("[^,%s]+") do
    local lowered = name:lower()
    if lowered ~= "keep-alive" and lowered ~= "close" then ngx.req.clear_header(name) end
  end
end

-- A streamed request without stream_options gets usage asked for, and the answer's usage event is removed.
local function ask_for_usage(ctx)
  ngx.req.read_body()
  local body = ngx.req.get_body_data()  -- nil past client_body_buffer_size: sent on as it is
  if not body or not find(body, '"stream"', 1, true) or find(body, '"stream_options"', 1, true) then return end
  local request = cjson.decode(body)
  if type(request) ~= "table" then return refuse(ctx, "invalid_json_object") end
  if request.stream ~= true then return end
  local close = #body
  while close > 0 and byte(body, close) ~= 125 do close = close - 1 end  -- 125: the object's closing brace
  ngx.req.set_body_data(sub(body, 1, close - 1) .. INJECTED)
  ctx.strip_usage = true
end

function M.access()
  local ctx = ngx.ctx
  local path = canonical_path()
  if not path then return refuse(ctx, "invalid_request_target") end
  local method = ROUTES[path]
  ctx.route = method and path or "other"
  local authorization = ngx.var.http_authorization
  if not authorization then return refuse(ctx, "missing_key") end
  local key_id = sub(authorization, 1, 7) == "Bearer " and key_id_for(sub(authorization, 8))
  if not key_id then return refuse(ctx, "invalid_key") end
  ctx.key_id = key_id
  if not method then return refuse(ctx, "route_not_found") end
  if ngx.req.get_method() ~= method then return refuse(ctx, "method_not_allowed") end
  drop_connection_named()
  if in_flight:incr(key_id, 1, 0) > MAX_CONCURRENCY then
    in_flight:incr(key_id, -1)
    return refuse(ctx, "concurrency_limited")
  end
  ctx.holds_slot = true
  if USAGE_ROUTES[path] then ask_for_usage(ctx) end
  ctx.sent = ngx.now()
end

function M.header_filter()
  if ngx.ctx.strip_usage then ngx.header.content_length = nil end  -- the body will be shorter
  for name in pairs(ngx.resp.get_headers(64, true)) do
    if not RESPONSE_ALLOW[name] then ngx.header[name] = nil end
  end
end

-- Usage from the SSE line that carries it; the whole line and its blank line go when the tap asked for it.
local function read_usage(ctx, chunk, at)
  local start = at
  while start > 1 and byte(chunk, start - 1) ~= 10 do start = start - 1 end
  local finish = find(chunk, "\n", at, true) or #chunk + 1
  local line = sub(chunk, start, finish - 1)
  local event = sub(line, 1, 6) == "data: " and cjson.decode(sub(line, 7))
  local usage = type(event) == "table" and event.usage
  if type(usage) ~= "table" then return chunk end
  ctx.input_tokens, ctx.output_tokens = usage.prompt_tokens, usage.completion_tokens
  if not ctx.strip_usage then return chunk end
  local after = finish + 1
  if byte(chunk, after) == 10 then after = after + 1 end
  return sub(chunk, 1, start - 1) .. sub(chunk, after)
end

function M.body_filter()
  local ctx = ngx.ctx
  local chunk, eof = ngx.arg[1], ngx.arg[2]
  if not ctx.first_byte and #chunk > 0 then ctx.first_byte = ngx.now() end
  if ctx.carry then chunk, ctx.carry = ctx.carry .. chunk, nil end
  if not eof and #chunk > 0 and byte(chunk, #chunk) ~= 10 then  -- hold back an unfinished line
    local cut = #chunk
    while cut > 0 and byte(chunk, cut) ~= 10 do cut = cut - 1 end
    chunk, ctx.carry = sub(chunk, 1, cut), sub(chunk, cut + 1)
  end
  local at = find(chunk, '"usage"', 1, true)
  ngx.arg[1] = at and read_usage(ctx, chunk, at) or chunk
end

-- One bucket per observation; the metrics page makes them cumulative.
local function observe(name, buckets, labels, value)
  local le = "+Inf"
  for i = 1, #buckets do
    if value <= buckets[i] then le = buckets[i]; break end
  end
  metrics:incr(name .. "_bucket{" .. labels .. ',le="' .. le .. '"}', 1, 0)
  metrics:incr(name .. "_sum{" .. labels .. "}", value, 0)
  metrics:incr(name .. "_count{" .. labels .. "}", 1, 0)
end

function M.log()
  local ctx, vars, now = ngx.ctx, ngx.var, ngx.now()
  local key_id, route = ctx.key_id or "none", ctx.route or "other"
  if ctx.holds_slot then in_flight:incr(key_id, -1) end
  local labels = 'route="' .. route .. '",key_id="' .. key_id .. '"'
  metrics:incr("slm_gateway_requests_total{" .. labels .. ',status="' .. ngx.status .. '"}', 1, 0)
  vars.tap_route, vars.tap_key_id, vars.tap_reason = route, key_id, ctx.reason or ""
  if ctx.sent then
    local duration = now - ngx.req.start_time()
    observe("slm_gateway_request_duration_seconds", DURATION_BUCKETS, labels, duration)
    vars.tap_duration_ms = duration * 1000
  end
  if ctx.sent and ctx.first_byte then
    local ttft = ctx.first_byte - ctx.sent
    observe("slm_gateway_time_to_first_token_seconds", TTFT_BUCKETS, labels, ttft)
    vars.tap_ttft_ms = ttft * 1000
  end
  if ctx.input_tokens then
    metrics:incr("slm_gateway_input_tokens_total{" .. labels .. "}", ctx.input_tokens, 0)
    metrics:incr("slm_gateway_output_tokens_total{" .. labels .. "}", ctx.output_tokens, 0)
    vars.tap_input_tokens, vars.tap_output_tokens = ctx.input_tokens, ctx.output_tokens
  end
end

local FAMILY_TYPES = {
  slm_gateway_requests_total = "counter", slm_gateway_input_tokens_total = "counter",
  slm_gateway_output_tokens_total = "counter", slm_gateway_request_duration_seconds = "histogram",
  slm_gateway_time_to_first_token_seconds = "histogram",
}
local HISTOGRAM_BUCKETS = {
  slm_gateway_request_duration_seconds = DURATION_BUCKETS, slm_gateway_time_to_first_token_seconds = TTFT_BUCKETS,
}

-- A histogram series' buckets made cumulative, as Prometheus expects, from the one-bucket counts.
local function cumulative_buckets(lines, family, series, counts)
  local total = 0
  for _, le in ipairs(HISTOGRAM_BUCKETS[family]) do
    total = total + (counts[tostring(le)] or 0)
    lines[#lines + 1] = family .. "_bucket{" .. series .. ',le="' .. le .. '"} ' .. total
  end
  lines[#lines + 1] = family .. "_bucket{" .. series .. ',le="+Inf"} ' .. total + (counts["+Inf"] or 0)
end

-- Prometheus text from the shared dict; the scrape is off the hot path, so it may sort and regroup.
function M.metrics()
  local families = {}
  for _, key in ipairs(metrics:get_keys(0)) do
    local name, labels = key:match("^([%w_]+){(.*)}$")
    local family = name:gsub("_bucket$", ""):gsub("_sum$", ""):gsub("_count$", "")
    families[family] = families[family] or { samples = {}, buckets = {} }
    local series, le = labels:match('^(.*),le="([^"]+)"$')
    if name:find("_bucket$") then
      local counts = families[family].buckets[series] or {}
      counts[le] = metrics:get(key)
      families[family].buckets[series] = counts
    else
      table.insert(families[family].samples, key .. " " .. metrics:get(key))
    end
  end
  local lines = {}
  for family, type_name in pairs(FAMILY_TYPES) do
    local found = families[family]
    if found then
      lines[#lines + 1] = "# TYPE " .. family .. " " .. type_name
      for series, counts in pairs(found.buckets) do cumulative_buckets(lines, family, series, counts) end
      for _, sample in ipairs(found.samples) do lines[#lines + 1] = sample end
    end
  end
  lines[#lines + 1] = "# TYPE slm_gateway_in_flight_requests gauge"
  for _, key_id in ipairs(in_flight:get_keys(0)) do
    lines[#lines + 1] = 'slm_gateway_in_flight_requests{key_id="' .. key_id .. '"} ' .. in_flight:get(key_id)
  end
  ngx.header["Content-Type"] = "text/plain; version=0.0.4"
  ngx.print(table.concat(lines, "\n"), "\n")
end

return M
