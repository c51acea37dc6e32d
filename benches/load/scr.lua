-- wrk script for benches/load/run.sh: the SCR requests a clinical system sends, against the mock or the bare
-- hello-world (which answers every path). Environment:
--   SCR_BASE_PATH   the base path, /summary-care-record/FHIR/R4
--   SCR_WORKLOAD    get: only GET /DocumentReference (the seeded patient's SCR id);
--                   mix: of every 10 requests 5 GET /DocumentReference, 4 GET /Bundle (the seeded 48-entry
--                   document), 1 POST /Bundle (the 37 kB GP Summary scr-assure uploads, with a fresh SCR id, for one of 4 patients)
--   SCR_BEARER      the access token (the gateway-on mock); absent: an inert "bench" token
--   SCR_UPLOAD      the upload body with {{nhsNumber}}, {{compositionId}}, {{bundleId}} (mix only)
--   WRK_JSON        where done() writes the results as JSON (latencies in microseconds)

local base = os.getenv("SCR_BASE_PATH") or "/summary-care-record/FHIR/R4"
local workload = os.getenv("SCR_WORKLOAD") or "get"
local bearer = os.getenv("SCR_BEARER") or "bench"
local nhs_system = "https://fhir.nhs.uk/Id/nhs-number"
local seed_nhs = "9995000180"
local seed_scr = "FA60BE64-1F34-11EB-A2A8-000C29A364EB"
-- Valid (Modulus 11) NHS numbers that only this benchmark uploads for.
local upload_patients = { "9995001004", "9995001012", "9995001020", "9995001039" }

local headers = {
  ["Accept"] = "application/fhir+json",
  ["Authorization"] = "Bearer " .. bearer,
  ["NHSD-Session-URID"] = "555254242102",
  ["X-Request-ID"] = "60e7d2a4-5d1b-4c9e-9c3e-0b3f2a6f8d11",
  ["X-Correlation-ID"] = "1f0c7b9e-8a47-4b1d-a2f4-3c5d6e7f8a90",
}
local post_headers = {}
for k, v in pairs(headers) do post_headers[k] = v end
post_headers["Content-Type"] = "application/fhir+json"

local get_id, get_doc, template
local counter = 0

local function uuid()
  local r = math.random
  return string.format("%04X%04X-%04X-4%03X-%04X-%04X%04X%04X",
    r(0, 0xffff), r(0, 0xffff), r(0, 0xffff), r(0, 0xfff), 0x8000 + r(0, 0x3fff), r(0, 0xffff), r(0, 0xffff),
    r(0, 0xffff))
end

-- A seed from /dev/urandom: every run and every thread its own sequence, so no SCR id is uploaded twice (a
-- re-upload of a held id is refused, PSIS-30134).
local function urandom_seed()
  local f = io.open("/dev/urandom", "rb")
  if not f then error("cannot read /dev/urandom") end
  local b = f:read(4)
  f:close()
  local n = 0
  for i = 1, 4 do n = n * 256 + b:byte(i) end
  return n % 2147483647 + 1
end

function setup(thread)
  thread:set("thread_seed", urandom_seed())
end

function init(args)
  math.randomseed(tonumber(thread_seed) or urandom_seed())
  get_id = wrk.format("GET", base .. "/DocumentReference?patient=" .. nhs_system .. "|" .. seed_nhs, headers)
  get_doc = wrk.format("GET", base .. "/Bundle?composition.identifier=" .. seed_scr
    .. "&composition.subject:Patient.identifier=" .. nhs_system .. "|" .. seed_nhs, headers)
  if workload == "mix" then
    local path = os.getenv("SCR_UPLOAD")
    local f = path and io.open(path, "r")
    if not f then error("SCR_UPLOAD: no upload template") end
    template = f:read("*a")
    f:close()
  end
end

local function upload()
  local body = template
    :gsub("{{nhsNumber}}", upload_patients[counter % #upload_patients + 1], 1)
    :gsub("{{compositionId}}", uuid(), 1)
    :gsub("{{bundleId}}", uuid(), 1)
  return wrk.format("POST", base .. "/Bundle", post_headers, body)
end

function request()
  counter = counter + 1
  if workload ~= "mix" then return get_id end
  local k = counter % 10
  if k < 5 then return get_id elseif k < 9 then return get_doc else return upload() end
end

function done(summary, latency, requests)
  local out = os.getenv("WRK_JSON")
  if not out then return end
  local f = io.open(out, "w")
  local e = summary.errors
  f:write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
    .. '"latency_us":{"mean":%.1f,"stdev":%.1f,"min":%d,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency.stdev, latency.min, latency.max, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  f:close()
end
