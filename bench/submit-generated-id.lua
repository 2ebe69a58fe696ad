-- `POST /api/tickets` without `external_id` (the server numbers it LOCAL-<n>).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"title":"kebabax balabax rudobax","description":"bababax gababax lababax kebabax"}'
