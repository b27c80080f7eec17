-- Argo CD health of every opdomain.io kind, from the status the operator writes: kstatus
-- conditions (Ready, Reconciling, Stalled) and observedGeneration, and each kind's phase.
local hs = {status = "Progressing", message = "waiting for the operator"}
-- Records and summaries the operator writes carry no state of their own to wait for.
if obj.kind == "TeardownRecord" or obj.kind == "WorkloadSummary" then
  return {status = "Healthy", message = ""}
end
if obj.status == nil then
  return hs
end
local st = obj.status
if st.observedGeneration ~= nil and obj.metadata.generation ~= nil and st.observedGeneration < obj.metadata.generation then
  hs.message = "the operator has not seen the latest spec yet"
  return hs
end
local ready = nil
if st.conditions ~= nil then
  for _, c in ipairs(st.conditions) do
    if c.type == "Stalled" and c.status == "True" then
      return {status = "Degraded", message = c.message or c.reason or "stalled"}
    end
    if c.type == "Ready" then
      ready = c
    end
  end
end
-- Phases in which nothing is wrong but access is held: an agreement or workspace suspended, an
-- ended agreement or grant, a product delisted. Argo CD shows them as Suspended.
local held = {Suspended = true, Expired = true, Terminated = true, Revoked = true, TornDown = true,
  Delisted = true, Withdrawn = true, Removed = true}
-- Phases that refused what was asked.
local refused = {Rejected = true, Returned = true, Failed = true}
local phase = st.phase
if phase ~= nil and held[phase] then
  return {status = "Suspended", message = phase .. ((ready ~= nil and ready.message ~= nil and ready.message ~= "") and (": " .. ready.message) or "")}
end
if phase ~= nil and refused[phase] then
  return {status = "Degraded", message = phase .. ((ready ~= nil and ready.message ~= nil and ready.message ~= "") and (": " .. ready.message) or "")}
end
if ready ~= nil then
  if ready.status == "True" then
    return {status = "Healthy", message = ready.message or ""}
  end
  hs.message = ready.message or ready.reason or hs.message
end
return hs
