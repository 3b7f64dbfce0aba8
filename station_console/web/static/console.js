// The station console's only script (served from this origin; no CDN, no inline script).
// On the alert board: listens to /stream (server-sent events) and adds each new alert row,
// updates the offline gateway list, and records when each alert arrived (for the bench); keeps
// the visitor calls table live (a placed call with its snapshot and the answer buttons, its end,
// the answer's result). On the commands page: fills in each command's result when it arrives.
"use strict";

function el(tag, attrs, text) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function postForm(action, csrf, label, extraInput) {
  const form = el("form", { method: "post", action: action, class: "inline" });
  form.appendChild(el("input", { type: "hidden", name: "csrf", value: csrf }));
  if (extraInput) form.appendChild(el("input", { name: extraInput, size: "8" }));
  form.appendChild(el("button", { class: extraInput ? "assign" : "ack" }, label));
  return form;
}

function alertRow(board, csrf, alert) {
  const row = el("tr", { id: "alert-" + alert.event_id, class: "alert new " + alert.severity,
                         "data-id": alert.event_id });
  const snap = el("td");
  if (alert.has_snapshot) {
    snap.appendChild(el("img", { class: "snap", alt: "snapshot",
                                 src: "/alerts/" + alert.event_id + "/snapshot.jpg" }));
  }
  row.appendChild(snap);
  row.appendChild(el("td", { class: "door" }, alert.site + "/" + alert.gateway));
  const time = el("td", { class: "time" });
  time.appendChild(el("time", { datetime: alert.occurred_at }, alert.occurred_at));
  row.appendChild(time);
  row.appendChild(el("td", { class: "kind" }, alert.kind));
  row.appendChild(el("td", {}, alert.severity));
  row.appendChild(el("td", {}, alert.assigned_to || ""));
  const actions = el("td");
  if (board.dataset.canAck === "1") {
    actions.appendChild(postForm("/alerts/" + alert.event_id + "/ack", csrf, board.dataset.tAck));
    actions.appendChild(postForm("/alerts/" + alert.event_id + "/assign", csrf,
                                 board.dataset.tAssign, "assignee"));
  }
  row.appendChild(actions);
  return row;
}

function setCount(id, delta) {
  const node = document.getElementById(id);
  if (node) node.textContent = String(Math.max(0, Number(node.textContent) + delta));
}

function gatewayChanged(board, item) {
  const list = document.getElementById("offline-gateways");
  const id = "gw-" + item.site + "-" + item.gateway;
  const existing = document.getElementById(id);
  if (!item.online && !existing) {
    list.appendChild(el("li", { id: id, class: "offline" },
                        item.site + "/" + item.gateway + " " + board.dataset.tOffline));
    setCount("offline-count", 1);
    setCount("online-count", -1);
  } else if (item.online && existing) {
    existing.remove();
    setCount("offline-count", -1);
    setCount("online-count", 1);
  }
}

function fetchResult(id, done) {
  fetch("/commands/" + id + "/result", { credentials: "same-origin" })
    .then((response) => response.json())
    .then((answer) => { if (answer.done) done(answer); });
}

function answerForm(table, csrf, callId) {
  const form = el("form", { method: "post", action: "/calls/" + callId + "/answer",
                            class: "inline" });
  form.appendChild(el("input", { type: "hidden", name: "csrf", value: csrf }));
  form.appendChild(el("input", { name: "by", size: "10", placeholder: "resident:ID" }));
  form.appendChild(el("button", { name: "answer", value: "accept", class: "accept" },
                      table.dataset.tAccept));
  form.appendChild(el("button", { name: "answer", value: "decline", class: "decline" },
                      table.dataset.tDecline));
  return form;
}

function callRow(table, csrf, call) {
  const row = el("tr", { id: "call-" + call.call_id, "data-id": call.call_id,
                         "data-command": call.answer_command_id || "" });
  const snap = el("td", { class: "snap-cell" });
  if (call.has_snapshot && call.state === "ringing") {
    snap.appendChild(el("img", { class: "snap", alt: "snapshot",
                                 src: "/calls/" + call.call_id + "/snapshot.jpg" }));
  }
  row.appendChild(snap);
  row.appendChild(el("td", { class: "door" }, call.site + "/" + call.gateway + "/" + call.door));
  row.appendChild(el("td", { class: "unit" }, call.unit));
  const time = el("td", { class: "time" });
  time.appendChild(el("time", { datetime: call.placed_at }, call.placed_at));
  row.appendChild(time);
  row.appendChild(el("td", { class: "state" }));
  row.appendChild(el("td", { class: "answer" }));
  row.appendChild(el("td", { class: "answer-result" }));
  return row;
}

function showCall(table, csrf, call) {
  // A call placed or changed: add its row, or bring the existing one up to date.
  const states = JSON.parse(table.dataset.states);
  let row = document.getElementById("call-" + call.call_id);
  if (!row) {
    row = callRow(table, csrf, call);
    const body = table.tBodies[0];
    body.insertBefore(row, body.firstChild);
  }
  row.className = "call " + call.state;
  row.querySelector(".state").textContent = states[call.state] || call.state;
  const answer = row.querySelector(".answer");
  if (call.state === "ringing") {
    if (table.dataset.canAnswer === "1" && !row.dataset.command && !answer.firstChild) {
      answer.appendChild(answerForm(table, csrf, call.call_id));
    }
  } else {
    const snap = row.querySelector("img.snap");
    if (snap) snap.remove();  // the station deleted it with the call
    answer.textContent = call.answered_by || "";
  }
}

function callAnswered(table, csrf, callId, commandId) {
  const row = document.getElementById("call-" + callId);
  if (!row) return;
  row.dataset.command = commandId;
  const form = row.querySelector(".answer form");
  if (form) form.remove();
  const cell = row.querySelector(".answer-result");
  if (!cell.dataset.done) cell.textContent = table.dataset.tWaiting;
  callResult(table, csrf, commandId);
}

function refreshCall(table, csrf, callId) {
  // what the stream may have said before it was open (between the page and its stream)
  fetch("/calls/" + callId, { credentials: "same-origin" })
    .then((response) => (response.ok ? response.json() : null))
    .then((call) => { if (call) showCall(table, csrf, call); });
}

function callResult(table, csrf, commandId) {
  const row = table.querySelector('tr[data-command="' + commandId + '"]');
  if (!row) return;
  const cell = row.querySelector(".answer-result");
  if (cell.dataset.done === "1") return;
  fetchResult(commandId, (answer) => {
    cell.dataset.done = "1";
    cell.textContent = answer.text;
    cell.className = "answer-result " + (answer.ok ? "ok" : "error");
    refreshCall(table, csrf, row.dataset.id);
  });
}

function startCalls(table, source) {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  source.addEventListener("call", (event) => showCall(table, csrf, JSON.parse(event.data)));
  source.addEventListener("call_answer", (event) => {
    const item = JSON.parse(event.data);
    callAnswered(table, csrf, item.call_id, item.command_id);
  });
  source.addEventListener("result", (event) => {
    callResult(table, csrf, JSON.parse(event.data).command_id);
  });
  source.addEventListener("open", () => {
    table.querySelectorAll("tr.call.ringing").forEach((row) => {
      refreshCall(table, csrf, row.dataset.id);
    });
  });
  // a fast gateway can answer before this page's stream is open: ask for what is pending
  const pending = () => table.querySelectorAll('tr[data-command]:not([data-command=""])');
  const timer = setInterval(() => {
    let waiting = 0;
    pending().forEach((row) => {
      if (row.querySelector(".answer-result").dataset.done !== "1") {
        waiting += 1;
        callResult(table, csrf, row.dataset.command);
      }
    });
    if (waiting === 0) clearInterval(timer);
  }, 2000);
  pending().forEach((row) => callResult(table, csrf, row.dataset.command));
}

function startBoard(board) {
  const csrf = document.querySelector('meta[name="csrf"]').content;
  const body = document.querySelector("#alerts tbody");
  const arrivals = document.getElementById("arrivals");
  const state = document.getElementById("live-state");
  const limit = 500;
  const source = new EventSource("/stream");
  source.onopen = () => { state.textContent = "live"; state.className = "badge live"; };
  source.onerror = () => { state.textContent = "…"; state.className = "badge"; };
  source.addEventListener("alert", (event) => {
    const alert = JSON.parse(event.data);
    arrivals.textContent += alert.event_id + " " + Date.now() + "\n";
    if (document.getElementById("alert-" + alert.event_id)) return;
    const none = document.getElementById("no-alerts");
    if (none) none.remove();
    body.insertBefore(alertRow(board, csrf, alert), body.firstChild);
    while (body.rows.length > limit) body.deleteRow(body.rows.length - 1);
  });
  source.addEventListener("ack", (event) => {
    const row = document.getElementById("alert-" + JSON.parse(event.data).event_id);
    if (row) row.remove();
  });
  source.addEventListener("gateway", (event) => gatewayChanged(board, JSON.parse(event.data)));
  const calls = document.getElementById("calls");
  if (calls) startCalls(calls, source);
}

function startCommands() {
  // Each waiting result is fetched when the stream says it arrived, and every 2 s meanwhile
  // (a fast gateway can answer before the stream is open).
  const refresh = (id) => {
    const cell = document.querySelector("#cmd-" + id + " .result");
    if (!cell || cell.dataset.done === "1") return;
    fetchResult(id, (answer) => {
      cell.dataset.done = "1";
      cell.textContent = answer.text;
      cell.className = "result " + (answer.ok ? "ok" : "error");
    });
  };
  const waiting = () => document.querySelectorAll('#commands td.result[data-done="0"]');
  const source = new EventSource("/stream");
  source.addEventListener("result", (event) => refresh(JSON.parse(event.data).command_id));
  const timer = setInterval(() => {
    const cells = waiting();
    if (cells.length === 0) clearInterval(timer);
    cells.forEach((cell) => refresh(cell.parentElement.dataset.id));
  }, 2000);
}

document.addEventListener("DOMContentLoaded", () => {
  const board = document.getElementById("board");
  if (board) startBoard(board);
  if (document.getElementById("commands")) startCommands();
});
