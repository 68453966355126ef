-- memo.lua: a Neovim buffer joined to a file of a Memo working copy.
--
-- It runs `memo rpc --stdio` (the daemon's editor RPC with LSP framing,
-- spoken by Neovim's own `vim.lsp.rpc`), opens the file with UTF-8 byte
-- offsets, sends every change of the buffer (`on_bytes`) as `buffer/edit`,
-- and applies `buffer/changed` notifications. It keeps the protocol of the
-- README's "Editor RPC": remember the last revision applied and send it
-- with each edit; while an edit is unanswered, set notifications aside;
-- take the answer to the latest edit, then what was set aside after it.
--
--   require('memo').join({ root = '/path/to/working/copy', path = 'src/main.rs' })
--
-- The buffer's text is the file's lines joined by "\n". Not here yet:
-- presence (showing others' cursors), undo through the daemon (Neovim's
-- own undo works: its changes are edits like any other), reconnecting.

local M = {}

-- The (row, column) of byte `offset` of the buffer's text.
local function position(buf, offset)
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  for row, line in ipairs(lines) do
    if offset <= #line then
      return row - 1, offset
    end
    offset = offset - #line - 1
  end
  error('memo: an offset past the end of the buffer')
end

-- Applies edits from the daemon (in order) without sending them back.
local function apply(state, edits)
  state.applying = true
  for _, edit in ipairs(edits) do
    local start_row, start_col = position(state.buf, edit.range.start)
    local end_row, end_col = position(state.buf, edit.range['end'])
    local lines = vim.split(edit.text, '\n', { plain = true })
    vim.api.nvim_buf_set_text(state.buf, start_row, start_col, end_row, end_col, lines)
  end
  state.applying = false
end

local function changed(state, params)
  if state.waiting > 0 then
    table.insert(state.aside, params)
    return
  end
  apply(state, params.edits)
  state.rev = params.rev
  -- The daemon keeps what we have not acknowledged: say we have it.
  state.rpc.notify('buffer/ack', { path = state.path, rev = state.rev })
end

local function answered(state, err, result)
  state.waiting = state.waiting - 1
  if err then
    vim.notify('memo: ' .. vim.inspect(err), vim.log.levels.ERROR)
    return
  end
  if state.waiting > 0 then
    return -- superseded by the answer to a later edit
  end
  apply(state, result.edits)
  state.rev = result.rev
  local aside = state.aside
  state.aside = {}
  for _, params in ipairs(aside) do
    if params.rev > state.rev then
      changed(state, params)
    end
  end
end

-- A change of the buffer, as `on_bytes` reports it: sent as one edit.
local function on_bytes(state, _, buf, _, start_row, start_col, offset, _, _, old_bytes, new_rows, new_cols)
  if state.applying or state.closed then
    return
  end
  local end_col = new_rows == 0 and start_col + new_cols or new_cols
  local text = table.concat(vim.api.nvim_buf_get_text(buf, start_row, start_col, start_row + new_rows, end_col, {}), '\n')
  local edit = { range = { start = offset, ['end'] = offset + old_bytes }, text = text }
  state.waiting = state.waiting + 1
  state.rpc.request('buffer/edit', { path = state.path, rev = state.rev, edits = { edit } }, function(err, result)
    answered(state, err, result)
  end)
end

-- Joins buffer `opts.buf` (default: the current one) to the file `opts.path`
-- of the working copy at `opts.root`; `opts.memo` is the `memo` command
-- (default: "memo"), `opts.create` makes a missing file. Returns the
-- session's state (`state.ready` once the buffer is joined).
function M.join(opts)
  local state = {
    buf = opts.buf or vim.api.nvim_get_current_buf(),
    path = opts.path,
    rev = 0,
    waiting = 0,
    aside = {},
    applying = false,
    ready = false,
  }
  local dispatchers = {
    notification = function(method, params)
      if method == 'buffer/changed' and params.path == state.path then
        changed(state, params)
      end
    end,
    on_exit = function()
      state.closed = true
    end,
  }
  state.rpc = vim.lsp.rpc.start(opts.memo or 'memo', { 'rpc', '--stdio', '-C', opts.root }, dispatchers)
  local open = { path = opts.path, create = opts.create or false, encoding = 'utf-8' }
  state.rpc.request('buffer/open', open, function(err, result)
    if err then
      vim.notify('memo: ' .. vim.inspect(err), vim.log.levels.ERROR)
      return
    end
    apply(state, { { range = { start = 0, ['end'] = #table.concat(vim.api.nvim_buf_get_lines(state.buf, 0, -1, false), '\n') }, text = result.text } })
    state.rev = result.rev
    vim.api.nvim_buf_attach(state.buf, false, {
      on_bytes = function(...)
        return on_bytes(state, ...)
      end,
    })
    state.rpc.request('buffer/subscribe', { path = state.path }, function()
      state.ready = true
    end)
  end)
  return state
end

return M
