-- wrk script for bench/server/side_by_side.sh: a fleet of devices, each with its own token.
--
-- wrk -tT ... -s fleet.lua URL -- MODE TOKENS_FILE T [BATCH FIRST_N]
--   MODE realtime : GET /v1/realtime?device_id=D, the devices in turn, each with its own token
--   MODE ingest   : POST /v1/ingest, one device's next batch of BATCH samples per request, the
--                   devices in turn; per device ts rises 5 s a sample and seq counts 1, 2, 3, …
--                   with no gap and no repeat: batch k of a device holds its samples
--                   FIRST_N + k·BATCH …, sample n stamped 2024-01-01T00:00:00Z + 5·n s
-- TOKENS_FILE holds "token:device_id" lines (the server's DEVICE_TOKENS_FILE form); lines whose
-- device part lists several devices are skipped. With several wrk threads, thread t takes the
-- devices i with i % T == t (T, wrk's -t, is passed again: a thread cannot ask wrk), so a device's
-- batches stay in order. Realtime requests are formatted once in init(), so wrk's own cost per
-- request is the same against the server and against its nginx ceiling.
-- The rows are the ones pg_ceiling.cpp writes for the same device and batch (fleet_sample).

local threads_started = 0

function setup(thread)
  thread:set("thread_index", threads_started)
  threads_started = threads_started + 1
end

local base_epoch = 1704067200  -- 2024-01-01T00:00:00Z, as in pg_ceiling.cpp
local mode, batch_size, first_n
local devices = {}  -- { id = ..., auth = "Bearer ..." }
local requests_made = 0
local realtime_requests = {}
-- The batch body of the current round, cut where the device id goes: table.concat with the id as
-- the separator makes a device's body with one copy (a gsub over a MiB body would cost wrk more
-- CPU than the server spends on it).
local template_round, template_pieces

local function sample_json(n)
  local ts = os.date("!%Y-%m-%dT%H:%M:%S", base_epoch + n * 5) .. ".000Z"
  local pv = 2400 + (n * 37) % 200
  local load = 650 + (n * 53) % 120
  local battery = -(1200 + (n * 29) % 80)
  local grid = load - pv - battery
  local soc = 40 + (n % 500) * 0.1
  return string.format(
    '{"device_id":"@DEVICE@","ts":"%s","seq":%d,' ..
      '"pv_power_w":%d,"mppt1_voltage_v":312.5,"mppt1_current_a":%.17g,' ..
      '"mppt2_voltage_v":305.2,"mppt2_current_a":%.17g,"load_power_w":%d,"grid_power_w":%d,' ..
      '"grid_power_source":"meter","battery_power_w":%d,"grid_voltage_v":231.4,' ..
      '"grid_frequency_hz":50.01,"inverter_temperature_c":41.3,' ..
      '"battery_soc_pct":%.17g,"battery_soh_pct":98.0,"battery_voltage_v":52.3,' ..
      '"battery_current_a":%.17g,"battery_temperature_c":24.5,' ..
      '"pv_energy_today_kwh":%.17g,"pv_energy_total_kwh":%.17g,' ..
      '"grid_import_today_kwh":3.01,"grid_import_total_kwh":%.17g,' ..
      '"grid_export_today_kwh":1.20,"grid_export_total_kwh":%.17g,' ..
      '"battery_charge_today_kwh":2.50,"battery_charge_total_kwh":%.17g,' ..
      '"battery_discharge_today_kwh":2.40,"battery_discharge_total_kwh":%.17g,' ..
      '"load_energy_today_kwh":9.10,"running_state":2,' ..
      '"power_flow":{"pv":true,"charging":true,"discharging":false,"load":true,' ..
      '"exporting":true,"importing":false}}',
    ts, n + 1, pv, pv / 2 / 312.5, pv / 2 / 305.2, load, grid, battery, soc, battery / 52.3,
    7.4 + n * 0.0001, 12345.6 + n * 0.0034, 4321.0 + n * 0.00001, 2345.0 + n * 0.0012,
    1500.0 + n * 0.0016, 1400.0 + n * 0.00001)
end

local function body_for(round, device)
  if template_round ~= round then
    local samples = {}
    for i = 0, batch_size - 1 do
      samples[#samples + 1] = sample_json(first_n + round * batch_size + i)
    end
    local text = '{"samples":[' .. table.concat(samples, ",") .. "]}"
    template_pieces = {}
    local from = 1
    while true do
      local at = text:find("@DEVICE@", from, true)
      if at == nil then break end
      template_pieces[#template_pieces + 1] = text:sub(from, at - 1)
      from = at + 8
    end
    template_pieces[#template_pieces + 1] = text:sub(from)
    template_round = round
  end
  return table.concat(template_pieces, device)
end

function init(args)
  mode = args[1]
  local tokens_file = args[2]
  local threads = tonumber(args[3] or "1")
  batch_size = tonumber(args[4] or "30")
  first_n = tonumber(args[5] or "0")
  if mode ~= "realtime" and mode ~= "ingest" then
    error("fleet.lua: MODE must be realtime or ingest, got " .. tostring(mode))
  end
  local index = tonumber(thread_index or 0)
  local all = {}
  for line in io.lines(tokens_file) do
    local token, device = line:match("^([^:#%s]+):([^,%s]+)$")
    if token then all[#all + 1] = { id = device, auth = "Bearer " .. token } end
  end
  if #all == 0 then error("fleet.lua: no token:device line in " .. tokens_file) end
  for i, d in ipairs(all) do
    if (i - 1) % threads == index then devices[#devices + 1] = d end
  end
  if #devices == 0 then error("fleet.lua: more wrk threads than devices") end
  if mode == "realtime" then
    for i, d in ipairs(devices) do
      realtime_requests[i] =
        wrk.format("GET", "/v1/realtime?device_id=" .. d.id, { Authorization = d.auth })
    end
  end
end

function request()
  local i = requests_made % #devices + 1
  local round = math.floor(requests_made / #devices)
  requests_made = requests_made + 1
  if mode == "realtime" then return realtime_requests[i] end
  local d = devices[i]
  local body = body_for(round, d.id)
  return wrk.format("POST", "/v1/ingest",
    { Authorization = d.auth, ["Content-Type"] = "application/json" }, body)
end
