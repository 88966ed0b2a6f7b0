-- wrk script for bench/server/wrk_server.sh: POST /v1/ingest batches of realistic samples.
--
-- wrk ... -s ingest.lua URL -- MODE DEVICE BATCH BASE_EPOCH
--   MODE replay : one fixed batch, sent again and again (after the first request every sample is a
--                 duplicate, so this measures parsing, validation and the ON CONFLICT path)
--   MODE unique : every batch carries timestamps (and seq) no batch has carried before, so every
--                 sample is really inserted (and rolled up)
-- The Authorization header comes from wrk's -H flag.

local threads_started = 0

-- Runs in wrk's main Lua state once per thread: give each thread its own time range.
function setup(thread)
  thread:set("thread_index", threads_started)
  threads_started = threads_started + 1
end

local mode, device, batch_size, base_epoch
local batches_sent = 0
local fixed_request

-- Every field of the wire contract (docs/api.md), values of a sunny noon on an SH4.0RS; power
-- wobbles from sample to sample, the energy counters only ever grow (5 s at the PV power).
local function sample_json(n)
  local ts = os.date("!%Y-%m-%dT%H:%M:%S", base_epoch + n * 5) .. ".000Z"
  local pv = 2400 + (n * 37) % 200
  local load = 650 + (n * 53) % 120
  local battery = -(1200 + (n * 29) % 80)
  local grid = load - pv - battery
  local soc = 40 + (n % 500) * 0.1
  local pv_total = 12345.6 + n * 0.0034
  return string.format(
    '{"device_id":"%s","ts":"%s","seq":%d,' ..
      '"pv_power_w":%d,"mppt1_voltage_v":%.1f,"mppt1_current_a":%.2f,' ..
      '"mppt2_voltage_v":%.1f,"mppt2_current_a":%.2f,"load_power_w":%d,"grid_power_w":%d,' ..
      '"grid_power_source":"meter","battery_power_w":%d,"grid_voltage_v":231.4,' ..
      '"grid_frequency_hz":50.01,"inverter_temperature_c":41.3,' ..
      '"battery_soc_pct":%.1f,"battery_soh_pct":98.0,"battery_voltage_v":52.3,' ..
      '"battery_current_a":%.2f,"battery_temperature_c":24.5,' ..
      '"pv_energy_today_kwh":%.2f,"pv_energy_total_kwh":%.4f,' ..
      '"grid_import_today_kwh":3.01,"grid_import_total_kwh":%.4f,' ..
      '"grid_export_today_kwh":1.20,"grid_export_total_kwh":%.4f,' ..
      '"battery_charge_today_kwh":2.50,"battery_charge_total_kwh":%.4f,' ..
      '"battery_discharge_today_kwh":2.40,"battery_discharge_total_kwh":%.4f,' ..
      '"load_energy_today_kwh":9.10,"running_state":2,' ..
      '"power_flow":{"pv":true,"charging":true,"discharging":false,"load":true,' ..
      '"exporting":true,"importing":false}}',
    device, ts, n + 1, pv, 312.5, pv / 2 / 312.5, 305.2, pv / 2 / 305.2, load, grid, battery,
    soc, battery / 52.3, 7.4 + n * 0.0001, pv_total, 4321.0 + n * 0.00001,
    2345.0 + n * 0.0012, 1500.0 + n * 0.0016, 1400.0 + n * 0.00001)
end

local function batch_body(first)
  local samples = {}
  for i = 0, batch_size - 1 do
    samples[#samples + 1] = sample_json(first + i)
  end
  return '{"samples":[' .. table.concat(samples, ",") .. "]}"
end

function init(args)
  mode = args[1] or "replay"
  device = args[2] or "bench-1"
  batch_size = tonumber(args[3] or "30")
  base_epoch = tonumber(args[4] or "1764547200")  -- 2025-12-01T00:00:00Z
  -- Threads get disjoint ranges of 10^7 samples (about 1.6 years of 5 s polls) each.
  local thread = tonumber(thread_index or 0)
  base_epoch = base_epoch + thread * 10000000 * 5
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if mode == "replay" then
    wrk.body = batch_body(0)
    fixed_request = wrk.format()  -- formatted once: replay costs wrk nothing per request
  elseif mode ~= "unique" then
    error("ingest.lua: MODE must be replay or unique, got " .. mode)
  end
end

function request()
  if mode == "replay" then
    return fixed_request
  end
  local body = batch_body(batches_sent * batch_size)
  batches_sent = batches_sent + 1
  return wrk.format(nil, nil, nil, body)
end
