%% Erlang/OTP's figures for the operations steward_otp_bench measures, on the same machine in
%% the same session (steward_otp_bench runs this once per round, alternating with steward):
%%   start_100             supervisor:start_link of a one_for_one supervisor with 100 children
%%                         (returns once every child's init/1 has run)
%%   stop_100              shutdown of that supervisor: exit(Sup, shutdown) until its 'EXIT'
%%   one_for_all_restart_8 a child of a one_for_all supervisor with 8 children crashes: from the
%%                         crash to the last of the 8 restarted children's init/1
%%   restart_one_for_one   a one_for_one child crashes: from the crash to its restarted init/1
%% Crashes run in batches of 10 per supervisor, so OTP's list of recent restarts stays short
%% (an isolated crash, not a storm). Every sample is printed, in ns:
%%   OTP name=NAME round=R samples=N1,N2,...
%% Usage: erl -noshell -kernel logger_level none -pa DIR -run otp_bench main ROUND STARTS CRASHES
-module(otp_bench).
-export([main/1]).

main([RoundArg, StartsArg, CrashesArg]) ->
    process_flag(trap_exit, true),
    Round = list_to_integer(RoundArg),
    Starts = list_to_integer(StartsArg),
    Crashes = list_to_integer(CrashesArg),
    io:format("OTPINFO release=~s schedulers=~p~n",
              [erlang:system_info(otp_release), erlang:system_info(schedulers_online)]),
    _ = start_stop(100, 2, [], []),  % warm-up: module loading, first allocations
    _ = restarts(one_for_all, 8, 10, []),
    _ = restarts(one_for_one, 1, 10, []),
    {StartNs, StopNs} = start_stop(100, Starts, [], []),
    emit("start_100", Round, StartNs),
    emit("stop_100", Round, StopNs),
    emit("one_for_all_restart_8", Round, restarts(one_for_all, 8, Crashes, [])),
    emit("restart_one_for_one", Round, restarts(one_for_one, 1, Crashes, [])),
    halt(0).

now_ns() -> erlang:monotonic_time(nanosecond).

start_stop(_N, 0, Starts, Stops) ->
    {Starts, Stops};
start_stop(N, K, Starts, Stops) ->
    T0 = now_ns(),
    {ok, Sup} = otp_bench_sup:start_link(one_for_one, N, none),
    T1 = now_ns(),
    exit(Sup, shutdown),
    receive {'EXIT', Sup, shutdown} -> ok end,
    T2 = now_ns(),
    start_stop(N, K - 1, [T1 - T0 | Starts], [T2 - T1 | Stops]).

restarts(_Strategy, _N, K, Acc) when K =< 0 ->
    Acc;
restarts(Strategy, N, K, Acc) ->
    Batch = min(10, K),
    {ok, Sup} = otp_bench_sup:start_link(Strategy, N, self()),
    Inits = collect_inits(N, #{}),
    Acc1 = crash_loop(Batch, N, Inits, Acc),
    exit(Sup, shutdown),
    receive {'EXIT', Sup, _} -> ok end,
    flush(),
    restarts(Strategy, N, K - Batch, Acc1).

crash_loop(0, _N, _Inits, Acc) ->
    Acc;
crash_loop(B, N, Inits, Acc) ->
    #{1 := {Pid, _}} = Inits,
    Pid ! crash,
    Crashed = receive {crashed, T} -> T end,
    New = collect_inits(N, #{}),
    Last = lists:max([At || {_, At} <- maps:values(New)]),
    crash_loop(B - 1, N, New, [Last - Crashed | Acc]).

collect_inits(N, Map) when map_size(Map) =:= N ->
    Map;
collect_inits(N, Map) ->
    receive {inited, I, Pid, T} -> collect_inits(N, Map#{I => {Pid, T}}) end.

flush() ->
    receive {inited, _, _, _} -> flush(); {crashed, _} -> flush() after 0 -> ok end.

emit(Name, Round, Samples) ->
    Text = lists:join(",", [integer_to_list(S) || S <- lists:reverse(Samples)]),
    io:format("OTP name=~s round=~p samples=~s~n", [Name, Round, Text]).
