%% The supervisor of otp_bench: N otp_bench_child workers (permanent, shutdown 5000, OTP's
%% defaults) under the given strategy.
-module(otp_bench_sup).
-behaviour(supervisor).
-export([start_link/3, init/1]).

start_link(Strategy, N, Bench) ->
    supervisor:start_link(?MODULE, {Strategy, N, Bench}).

init({Strategy, N, Bench}) ->
    Flags = #{strategy => Strategy, intensity => 1000, period => 5},
    Specs = [#{id => I,
               start => {otp_bench_child, start_link, [Bench, I]},
               restart => permanent,
               shutdown => 5000,
               type => worker}
             || I <- lists:seq(1, N)],
    {ok, {Flags, Specs}}.
